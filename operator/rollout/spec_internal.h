/*
 * What spec.c and spec_analysis.c share, and nothing outside operator/rollout/spec*.c includes:
 * the json-c reading helpers that record problems in a tg_field_errors list, and the parsing
 * of spec.analysis and of the analysis references (a canary step's analysis,
 * backgroundAnalysis, blue-green's pre- and postPromotionAnalysis).
 */
#ifndef TG_ROLLOUT_SPEC_INTERNAL_H
#define TG_ROLLOUT_SPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "rollout/spec.h"

/* Field paths are short; a longer one is truncated, never overflowed. */
#define PATH_MAX_LEN 256

/* The shared helpers keep short names in the code and get the module prefix as symbols. */
#define dup_or_flag      tg_spec_dup_or_flag
#define member           tg_spec_member
#define path_join        tg_spec_path_join
#define path_index       tg_spec_path_index
#define get_object       tg_spec_get_object
#define get_string       tg_spec_get_string
#define get_int          tg_spec_get_int
#define get_bool         tg_spec_get_bool
#define check_known_keys tg_spec_check_known_keys
#define is_dns_name      tg_spec_is_dns_name
#define free_labels      tg_spec_free_labels

/* See spec.c for each. */
char *dup_or_flag(struct tg_field_errors *errs, const char *s);
json_object *member(json_object *obj, const char *key);
void path_join(char *buf, size_t n, const char *prefix, const char *key);
void path_index(char *buf, size_t n, const char *prefix, size_t i);
json_object *get_object(struct tg_field_errors *errs, json_object *obj, const char *key,
                        const char *prefix, bool required);
bool get_string(struct tg_field_errors *errs, json_object *obj, const char *key, const char *prefix,
                bool required, char **out);
int get_int(struct tg_field_errors *errs, json_object *obj, const char *key, const char *prefix,
            int def, int min, int max);
bool get_bool(struct tg_field_errors *errs, json_object *obj, const char *key, const char *prefix,
              bool def);
void check_known_keys(struct tg_field_errors *errs, json_object *obj, const char *prefix,
                      const char *const *known, size_t n_known);
bool is_dns_name(const char *s, size_t max, bool dots, bool letter_first);
void free_labels(struct tg_label *labels, size_t n);

/*
 * Parses spec.analysis (spec is the Rollout's spec object) into out->analysis: the Prometheus
 * settings, args, the metric catalogue with defaults applied (count as written, 0 when absent)
 * and the smoke tests. Call it before the strategy, whose analysis references resolve against
 * the catalogue.
 */
void tg_spec_parse_analysis_settings(struct tg_field_errors *errs, json_object *spec,
                                     struct tg_rollout_spec *out);

/*
 * Resolves one analysis reference (ref, the JSON at path) against the catalogue into *out:
 * deep copies of the catalogue's metrics, or only those the reference names, with its
 * overrides applied; args merged. background selects the count default (0 instead of 1) and
 * allows count 0. spec is the Rollout's spec object (for the catalogue as written).
 */
void tg_spec_parse_analysis_ref(struct tg_field_errors *errs, json_object *spec, json_object *ref,
                                const char *path, const struct tg_analysis_settings *settings,
                                bool background, struct tg_analysis *out);

/* Checks what depends on the strategy: baseline needs a canary with replicas routing. */
void tg_spec_check_analysis_strategy(struct tg_field_errors *errs,
                                     const struct tg_rollout_spec *out);

/* Frees what an analysis holds (not the struct itself); it is zeroed. */
void tg_spec_analysis_free(struct tg_analysis *a);

/* Frees what spec.analysis holds (not the struct itself); it is zeroed. */
void tg_spec_analysis_settings_free(struct tg_analysis_settings *s);

#endif

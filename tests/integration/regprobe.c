/*
 * tollgate-regprobe: runs tg_fetch_material (verify/fetch.h) on a loop for one image and prints
 * the material JSON (tg_verify_material_to_json) on stdout, or exits 1 with the message on
 * stderr. For the registry client's integration tests against a real docker-registry.
 *
 *   tollgate-regprobe [--http-host H]... [--ca FILE] [--dockerconfig FILE] [--timeout-ms N]
 *                     IMAGE@sha256:<hex>
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "util/error.h"
#include "util/file.h"
#include "verify/fetch.h"
#include "verify/registry.h"

#define MAX_HOSTS 16
#define MAX_FILE  (4u << 20)

struct probe {
    bool done;
    int rc;
    char message[2048];
    struct tg_verify_material *material;
};

static void on_material(int rc, const char *message, struct tg_verify_material *m, void *arg)
{
    struct probe *p = arg;

    p->done = true;
    p->rc = rc;
    snprintf(p->message, sizeof(p->message), "%s", message ? message : "");
    p->material = m;
}

static int usage(void)
{
    fprintf(stderr, "usage: tollgate-regprobe [--http-host H]... [--ca FILE] "
                    "[--dockerconfig FILE] [--timeout-ms N] IMAGE@sha256:<hex>\n");
    return 2;
}

static int read_file(const char *what, const char *path, char **data, size_t *len)
{
    int rc = tg_file_read(path, MAX_FILE, data, len, NULL);

    if (rc < 0)
        fprintf(stderr, "tollgate-regprobe: %s %s: %s\n", what, path, tg_error_last());
    return rc;
}

int main(int argc, char **argv)
{
    const char *hosts[MAX_HOSTS];
    size_t n_hosts = 0;
    const char *ca_path = NULL, *config_path = NULL, *image = NULL;
    long timeout_ms = 10000;
    char *ca = NULL, *config = NULL;
    size_t ca_len = 0, config_len = 0;
    struct tg_registry_creds *creds = NULL;
    struct tg_registry *reg = NULL;
    struct probe p = {0};
    uv_loop_t loop;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--http-host") == 0 && has_value && n_hosts < MAX_HOSTS)
            hosts[n_hosts++] = argv[++i];
        else if (strcmp(argv[i], "--ca") == 0 && has_value)
            ca_path = argv[++i];
        else if (strcmp(argv[i], "--dockerconfig") == 0 && has_value)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--timeout-ms") == 0 && has_value)
            timeout_ms = strtol(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !image)
            image = argv[i];
        else
            return usage();
    }
    if (!image)
        return usage();
    if (ca_path && read_file("CA", ca_path, &ca, &ca_len) < 0)
        return 1;
    if (!(creds = tg_registry_creds_new())) {
        free(ca);
        return 1;
    }
    if (config_path) {
        if (read_file("docker config", config_path, &config, &config_len) < 0)
            goto out;
        if (tg_registry_creds_add_dockerconfig(creds, config, config_len) < 0) {
            fprintf(stderr, "tollgate-regprobe: %s\n", tg_error_last());
            goto out;
        }
    }
    uv_loop_init(&loop);
    struct tg_registry_options opt = {
        .ca_pem = ca,
        .ca_len = ca_len,
        .http_hosts = hosts,
        .n_http_hosts = n_hosts,
        .timeout_ms = timeout_ms,
    };
    if (tg_registry_new(&loop, &opt, &reg) < 0) {
        fprintf(stderr, "tollgate-regprobe: %s\n", tg_error_last());
        goto close_loop;
    }
    if (tg_fetch_material(reg, image, creds, NULL, on_material, &p) < 0) {
        fprintf(stderr, "tollgate-regprobe: %s\n", tg_error_last());
        goto close_loop;
    }
    while (!p.done)
        uv_run(&loop, UV_RUN_ONCE);
    if (p.rc < 0) {
        fprintf(stderr, "tollgate-regprobe: %s: %s\n", tg_error_name(p.rc), p.message);
    } else {
        json_object *j = tg_verify_material_to_json(p.material);
        if (j) {
            printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
            json_object_put(j);
            status = 0;
        }
        tg_verify_material_free(p.material);
    }
close_loop:
    tg_registry_free(reg);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
out:
    tg_registry_creds_free(creds);
    free(config);
    free(ca);
    return status;
}

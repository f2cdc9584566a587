/*
 * bench_cache: what the informer cache costs in memory. Loads N synthetic Rollouts (a custom
 * resource of about 2 KiB of JSON each, shaped as an API server returns it, managedFields
 * included) into a cache exactly as the informer would (parse one object, upsert, drop it) and
 * prints the process RSS against the raw JSON bytes received:
 *
 *   bench_cache n=10000 store=text strip=default load=direct json_mib=19.9 stored_mib=16.4
 * rss_mib=23.1 rss_per_json_byte=1.16 delta_per_json_byte=1.02 bytes_per_object=2150 get_us=9.5
 *
 * rss is the whole process; delta is RSS after the load minus RSS before it; get_us is the
 * time of one tg_cache_get (a parse of the stored text in text mode). Each run happens
 * in its own child process so that one size does not inherit another's heap.
 *
 * Usage: bench_cache [--n N] [--store text|tree] [--strip default|none] [--page P] [--trim]
 * Without options it runs N = 1000 and 10000: text mode loaded directly and in 100-item pages,
 * tree mode loaded directly, all with the default strip. --n, --store and --page narrow it. With
 * --page the objects arrive as the pages of a list of P items through the informer (each page
 * parsed whole, as the REST client delivers it), so the transient cost of a page shows too.
 * --trim calls glibc's malloc_trim(0) after the load, handing the freed page trees back.
 */
#include <json-c/json.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kube/cache.h"
#include "kube/informer.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define BENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BENCH_SANITIZED 1
#endif
#endif

static size_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Writes the JSON of the i-th Rollout into buf; returns its length. */
static size_t rollout_json(char *buf, size_t cap, unsigned i)
{
    unsigned team = i % 50;
    int n = snprintf(
        buf, cap,
        "{\"apiVersion\":\"tollgate.io/v1alpha1\",\"kind\":\"Rollout\",\"metadata\":{"
        "\"name\":\"web-%05u\",\"namespace\":\"team-%02u\","
        "\"uid\":\"6f1c2a3e-%04x-4d5e-9f00-%012x\",\"resourceVersion\":\"%u\","
        "\"generation\":3,\"creationTimestamp\":\"2026-11-20T10:00:00Z\","
        "\"labels\":{\"app\":\"web-%05u\",\"team\":\"team-%02u\","
        "\"app.kubernetes.io/part-of\":\"shop\"},"
        "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\","
        "\"apiVersion\":\"tollgate.io/v1alpha1\",\"time\":\"2026-11-20T10:00:00Z\","
        "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\"f:app\":{},"
        "\"f:team\":{}}},\"f:spec\":{\"f:replicas\":{},\"f:service\":{},\"f:strategy\":{},"
        "\"f:template\":{}}}},{\"manager\":\"tollgate\",\"operation\":\"Update\","
        "\"apiVersion\":\"tollgate.io/v1alpha1\",\"time\":\"2026-11-20T10:05:00Z\","
        "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\"f:phase\":{},"
        "\"f:stableRelease\":{},\"f:conditions\":{}}},\"subresource\":\"status\"}]},"
        "\"spec\":{\"replicas\":4,\"template\":{\"metadata\":{\"labels\":{\"app\":\"web-%05u\","
        "\"tier\":\"frontend\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
        "\"image\":\"registry.example/shop/web@sha256:%064x\",\"ports\":[{\"containerPort\":8080,"
        "\"name\":\"http\",\"protocol\":\"TCP\"}],\"env\":[{\"name\":\"LOG_LEVEL\","
        "\"value\":\"info\"},{\"name\":\"REGION\",\"value\":\"eu-west-1\"}],"
        "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"},"
        "\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"}},\"readinessProbe\":{\"httpGet\":"
        "{\"path\":\"/healthz\",\"port\":8080},\"periodSeconds\":5}}]}},"
        "\"service\":{\"name\":\"web-%05u\",\"port\":80,\"targetPort\":8080},"
        "\"strategy\":{\"canary\":{\"steps\":[{\"setWeight\":10},{\"pause\":{\"duration\":"
        "\"2m\"}},{\"analysis\":{}},{\"setWeight\":50},{\"pause\":{}}],\"baseline\":true,"
        "\"trafficRouting\":{\"replicas\":{}}}},\"analysis\":{\"prometheus\":{\"address\":"
        "\"http://prometheus.monitoring:9090\"},\"interval\":\"30s\",\"metrics\":[{\"name\":"
        "\"error-rate\",\"query\":\"sum(rate(http_requests_total{namespace=\\\"{{namespace}}\\\","
        "track=\\\"{{track}}\\\",code=~\\\"5..\\\"}[1m])) / sum(rate(http_requests_total{"
        "namespace=\\\"{{namespace}}\\\",track=\\\"{{track}}\\\"}[1m]))\",\"max\":0.01,"
        "\"failureLimit\":1}]},\"progressDeadlineSeconds\":600},"
        "\"status\":{\"phase\":\"Healthy\",\"stableRelease\":\"web-%05u-1-2-3\","
        "\"currentStep\":5,\"canaryWeight\":0,\"observedGeneration\":3,\"conditions\":["
        "{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"MinimumReplicasAvailable\","
        "\"lastTransitionTime\":\"2026-11-20T10:05:00Z\"},{\"type\":\"Progressing\","
        "\"status\":\"True\",\"reason\":\"RolloutCompleted\","
        "\"lastTransitionTime\":\"2026-11-20T10:05:00Z\"}]}}",
        i, team, i % 65536, i, 100000 + i, i, team, i, i, i, i);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "bench_cache: object %u does not fit\n", i);
        exit(1);
    }
    return (size_t)n;
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Microseconds per tg_cache_get of every object once (a parse each in text mode). */
static double time_gets(struct tg_cache *c, unsigned n)
{
    char key[64];
    double t0 = now_us();

    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "team-%02u/web-%05u", i % 50, i);
        if (!tg_cache_get(c, key)) {
            fprintf(stderr, "bench_cache: %s missing\n", key);
            exit(1);
        }
        if (i % 100 == 99)
            tg_cache_release(c);
    }
    tg_cache_release(c);
    return (now_us() - t0) / n;
}

/* Loads objects one at a time, as watch events arrive. Returns the JSON bytes loaded. */
static size_t load_direct(struct tg_cache *c, unsigned n)
{
    char buf[8192];
    size_t json_bytes = 0;
    json_tokener *tok = json_tokener_new();

    for (unsigned i = 0; i < n; i++) {
        size_t len = rollout_json(buf, sizeof(buf), i);
        json_bytes += len;
        json_tokener_reset(tok);
        struct json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
        if (!o || tg_cache_upsert(c, o, NULL) < 0) {
            fprintf(stderr, "bench_cache: object %u: %s\n", i, tg_error_last());
            exit(1);
        }
        json_object_put(o);
    }
    json_tokener_free(tok);
    return json_bytes;
}

/* Loads objects through the informer as a paged list of `page` items, each page one JSON body
 * parsed whole, as the REST client would hand it over. Returns the JSON bytes of the objects. */
static size_t load_paged(struct tg_cache *c, unsigned n, unsigned page)
{
    struct tg_informer_opts opts = {.page_size = page};
    struct tg_informer_action a;
    struct tg_informer *inf;
    struct tg_buf body;
    char buf[8192];
    size_t json_bytes = 0;
    unsigned i = 0;

    if (tg_informer_new(c, tg_clock_system(), &opts, &inf) < 0 || tg_informer_start(inf, &a) < 0)
        exit(1);
    tg_buf_init(&body, (size_t)1 << 30);
    while (a.what == TG_INFORMER_DO_LIST) {
        unsigned end = i + page < n ? i + page : n;
        char head[128];
        snprintf(head, sizeof(head),
                 "{\"kind\":\"RolloutList\",\"metadata\":{\"resourceVersion\":\"999999\","
                 "\"continue\":\"%s\"},\"items\":[",
                 end < n ? "more" : "");
        tg_buf_reset(&body);
        tg_buf_append_str(&body, head);
        for (; i < end; i++) {
            size_t len = rollout_json(buf, sizeof(buf), i);
            json_bytes += len;
            if (tg_buf_append(&body, buf, len) < 0 ||
                (i + 1 < end && tg_buf_append(&body, ",", 1) < 0))
                exit(1);
        }
        tg_buf_append_str(&body, "]}");
        struct json_object *list = json_tokener_parse(body.data);
        if (!list || tg_informer_list_page(inf, list, &a) < 0) {
            fprintf(stderr, "bench_cache: list page: %s\n", tg_error_last());
            exit(1);
        }
        json_object_put(list);
    }
    tg_buf_free(&body);
    tg_informer_free(inf);
    return json_bytes;
}

static bool trim;

static int run(unsigned n, enum tg_cache_store store, bool strip, unsigned page)
{
    struct tg_cache_opts opts = {.store = store,
                                 .strip = strip ? tg_cache_strip_default : tg_cache_strip_none};
    struct tg_cache_stats st;
    struct tg_cache *c;
    char load[32] = "direct";

    size_t before = rss_bytes();
    if (tg_cache_new(&opts, &c) < 0) {
        fprintf(stderr, "bench_cache: %s\n", tg_error_last());
        return 1;
    }
    size_t json_bytes = page ? load_paged(c, n, page) : load_direct(c, n);
    if (page)
        snprintf(load, sizeof(load), "paged%u", page);
    if (trim)
        snprintf(load + strlen(load), sizeof(load) - strlen(load), "+trim");
    tg_cache_release(c);
    if (trim)
        malloc_trim(0);
    size_t after = rss_bytes();
    tg_cache_stats(c, &st);
    double get_us = time_gets(c, n);
    printf("bench_cache n=%u store=%s strip=%s load=%s json_mib=%.1f stored_mib=%.1f "
           "rss_mib=%.1f rss_per_json_byte=%.2f delta_per_json_byte=%.2f bytes_per_object=%zu "
           "get_us=%.1f\n",
           n, store == TG_CACHE_STORE_TEXT ? "text" : "tree", strip ? "default" : "none", load,
           (double)json_bytes / 1048576.0, (double)st.stored_bytes / 1048576.0,
           (double)after / 1048576.0, (double)after / (double)json_bytes,
           (double)(after - before) / (double)json_bytes, (after - before) / n, get_us);
    fflush(stdout);
    tg_cache_free(c);
    return 0;
}

/* Runs one measurement in a child process, so that every size starts from a fresh heap. */
static int run_child(unsigned n, enum tg_cache_store store, bool strip, unsigned page)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return run(n, store, strip, page);
    if (pid == 0)
        _exit(run(n, store, strip, page));
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    unsigned n = 0, page = 0;
    enum tg_cache_store store = TG_CACHE_STORE_TEXT;
    bool strip = true, one_store = false;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            n = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--store") && i + 1 < argc) {
            store = !strcmp(argv[++i], "tree") ? TG_CACHE_STORE_TREE : TG_CACHE_STORE_TEXT;
            one_store = true;
        } else if (!strcmp(argv[i], "--trim")) {
            trim = true;
        } else if (!strcmp(argv[i], "--page") && i + 1 < argc) {
            page = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--strip") && i + 1 < argc) {
            strip = strcmp(argv[++i], "none") != 0;
        } else {
            fprintf(stderr,
                    "usage: %s [--n N] [--store text|tree] [--strip default|none] [--page P] "
                    "[--trim]\n",
                    argv[0]);
            return 2;
        }
    }
#ifdef BENCH_SANITIZED
    fprintf(stderr, "bench_cache: built with AddressSanitizer; the figures are not meaningful\n");
#endif
    /* Without options: each size, stored as text (loaded directly and as 100-item list pages)
     * and as trees (loaded directly). */
    static const struct {
        enum tg_cache_store store;
        unsigned page;
    } modes[] = {{TG_CACHE_STORE_TEXT, 0}, {TG_CACHE_STORE_TEXT, 100}, {TG_CACHE_STORE_TREE, 0}};
    unsigned sizes[] = {1000, 10000};
    for (size_t s = 0; s < 2; s++) {
        if (n && s)
            break;
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
            if (one_store && modes[m].store != store)
                continue;
            if (page && m)
                break;
            rc |= run_child(n ? n : sizes[s], one_store ? store : modes[m].store, strip,
                            page ? page : modes[m].page);
        }
    }
    return rc;
}

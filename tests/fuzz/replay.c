/*
 * The fuzz targets' replay driver, for the normal build: feeds every regular file of each
 * argument (a corpus directory, in name order, or a single file) to LLVMFuzzerTestOneInput once.
 * A crash, a leak or undefined behaviour shows through the sanitizers of the test build; the
 * exit status is 0 when every input ran, 1 when an argument could not be read, 2 when no input
 * was found at all (an empty corpus is a mistake, not a pass).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Inputs larger than this are skipped: libFuzzer's own default max_len is far below it. */
#define REPLAY_MAX (16 * 1024 * 1024)

static int run_file(const char *path, size_t *ran)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > REPLAY_MAX ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        fprintf(stderr, "replay: cannot size %s\n", path);
        return 1;
    }
    buf = malloc(n ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    /* An exact-size copy, so that an overread past the input is caught. */
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    (*ran)++;
    return 0;
}

static int only_visible(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static int run_arg(const char *arg, size_t *ran)
{
    struct stat st;
    struct dirent **names = NULL;
    int n, status = 0;

    if (stat(arg, &st) != 0) {
        fprintf(stderr, "replay: no such file or directory: %s\n", arg);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(arg, ran);
    n = scandir(arg, &names, only_visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", arg);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", arg, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            status |= run_file(path, ran);
        free(names[i]);
    }
    free(names);
    return status;
}

int main(int argc, char **argv)
{
    size_t ran = 0;
    int status = 0;

    for (int i = 1; i < argc; i++)
        status |= run_arg(argv[i], &ran);
    printf("replay: %zu inputs\n", ran);
    if (status)
        return 1;
    return ran ? 0 : 2;
}

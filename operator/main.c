/* tollgate: the operator's entry point: flags, sub-commands, and wiring of the parts. */
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: tollgate [--version] [--help] [--kubeconfig FILE] [--context NAME] "
          "<command>\n"
          "\n"
          "commands:\n"
          "  check    connect to the API server and print its version\n",
          out);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("tollgate %s\n", TG_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    usage(stderr);
    return 2;
}

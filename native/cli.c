/*
 * What the pre-main parsers (early.c, pause.c) share. Their option names are rows of the option
 * table (src/Podmon/Cli/OptionTable.cs); OptionTableTests checks every option name and CONMON_*
 * variable these files spell against it.
 */
#define _GNU_SOURCE
#include <string.h>
#include <strings.h>

#include "podmon.h"

int pm_arg_is(const char *arg, const char *name, const char **value) {
    size_t n = strlen(name);
    if (strncmp(arg, name, n)) return 0;
    if (arg[n] == 0) { *value = NULL; return 1; }
    if (arg[n] == '=') { *value = arg + n + 1; return 1; }
    return 0;
}

int pm_parse_bool(const char *v) {
    static const char *const yes[] = {"1", "y", "yes", "t", "true", "on"};
    static const char *const no[] = {"", "0", "n", "no", "f", "false", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcasecmp(v, yes[i])) return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (!strcasecmp(v, no[i])) return 0;
    return -1;
}

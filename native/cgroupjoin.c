/*
 * Moves a process into every cgroup the calling process is in (cgroup v1 hierarchies and the v2
 * unified one): conmon mode's launcher uses it to take the early-started daemon along into the
 * cgroup the engine just moved the launcher into (early.c). A hierarchy where both already agree
 * is left alone, so without a move there is nothing to write and nothing to fail.
 * Paths come from /proc/self/cgroup and /proc/self/mountinfo of the caller: the file written is
 * <mount point>/<cgroup path below the mount's root>/cgroup.procs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podmon.h"

/* The whole of a /proc file (NUL-terminated, malloc'ed), or NULL with errno set. */
static char *read_all(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { close(fd); errno = ENOMEM; return NULL; }
        if (cap - len < 2) {
            char *b = realloc(buf, cap *= 2);
            if (!b) { free(buf); buf = NULL; continue; }
            buf = b;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { int e = errno; free(buf); close(fd); errno = e; return NULL; }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    return buf;
}

/* Does the comma-separated list `set` hold every item of the comma-separated `want`? */
static int has_all(const char *set, size_t set_len, const char *want, size_t want_len) {
    for (size_t i = 0; i < want_len;) {
        size_t j = i;
        while (j < want_len && want[j] != ',') j++;
        int found = 0;
        for (size_t a = 0; a < set_len && !found;) {
            size_t b = a;
            while (b < set_len && set[b] != ',') b++;
            found = b - a == j - i && !memcmp(set + a, want + i, j - i);
            a = b + 1;
        }
        if (!found) return 0;
        i = j + 1;
    }
    return 1;
}

/* Field `n` (0-based, space-separated) of a line, with its length. */
static const char *field(const char *line, const char *end, int n, size_t *len) {
    const char *p = line;
    for (int i = 0; i < n; i++) {
        p = memchr(p, ' ', (size_t)(end - p));
        if (!p) return NULL;
        p++;
    }
    const char *q = memchr(p, ' ', (size_t)(end - p));
    *len = (size_t)((q ? q : end) - p);
    return p;
}

int pm_cgroup_procs_path(const char *controllers, const char *path, const char *mountinfo, char *out, size_t size) {
    size_t clen = strlen(controllers);
    for (const char *line = mountinfo; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        /* "id parent maj:min root mountpoint opts [optional...] - fstype source superopts" */
        const char *dash = strstr(line, " - ");
        if (dash && dash < end) {
            size_t tlen = 0, rlen = 0, mlen = 0, slen = 0;
            const char *type = field(dash + 3, end, 0, &tlen);
            const char *super = field(dash + 3, end, 2, &slen);
            const char *root = field(line, end, 3, &rlen);
            const char *mnt = field(line, end, 4, &mlen);
            int match = type && root && mnt &&
                (clen == 0 ? tlen == 7 && !memcmp(type, "cgroup2", 7)
                           : tlen == 6 && !memcmp(type, "cgroup", 6) && super && has_all(super, slen, controllers, clen));
            /* The cgroup path is relative to the caller's cgroup namespace root, like the mount's root. */
            if (rlen == 1 && root[0] == '/') rlen = 0;
            if (match && !strncmp(path, root, rlen) && (path[rlen] == '/' || path[rlen] == 0) &&
                memchr(mnt, '\\', mlen) == NULL) { /* an escaped (octal) mount point: not worth decoding */
                const char *rest = strcmp(path + rlen, "/") ? path + rlen : "";
                int n = snprintf(out, size, "%.*s%s/cgroup.procs", (int)mlen, mnt, rest);
                return n > 0 && (size_t)n < size ? 0 : -1;
            }
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}

/* The path of hierarchy `id` ("4" / "0") in a /proc/PID/cgroup text, or NULL. */
static const char *path_of(const char *cgroups, const char *id, size_t idlen, size_t *len) {
    for (const char *line = cgroups; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        const char *c2 = memchr(line, ':', (size_t)(end - line));
        const char *c3 = c2 ? memchr(c2 + 1, ':', (size_t)(end - c2 - 1)) : NULL;
        if (c3 && (size_t)(c2 - line) == idlen && !memcmp(line, id, idlen)) {
            *len = (size_t)(end - c3 - 1);
            return c3 + 1;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

int pm_cgroup_join(int pid, char *err, size_t errlen) {
    char theirs_path[64];
    snprintf(theirs_path, sizeof theirs_path, "/proc/%d/cgroup", pid);
    char *mine = read_all("/proc/self/cgroup"), *theirs = read_all(theirs_path), *mounts = NULL;
    int rc = -1;
    if (!mine || !theirs) { snprintf(err, errlen, "read %s: %s", mine ? theirs_path : "/proc/self/cgroup", strerror(errno)); goto out; }
    for (const char *line = mine; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        const char *c2 = memchr(line, ':', (size_t)(end - line));
        const char *c3 = c2 ? memchr(c2 + 1, ':', (size_t)(end - c2 - 1)) : NULL;
        if (!c3) { snprintf(err, errlen, "/proc/self/cgroup: unexpected line '%.*s'", (int)(end - line), line); goto out; }
        size_t plen, tlen;
        const char *p = c3 + 1, *t = path_of(theirs, line, (size_t)(c2 - line), &tlen);
        plen = (size_t)(end - p);
        if (!(t && tlen == plen && !memcmp(t, p, plen))) {
            if (!mounts && !(mounts = read_all("/proc/self/mountinfo"))) {
                snprintf(err, errlen, "read /proc/self/mountinfo: %s", strerror(errno));
                goto out;
            }
            char ctrl[256], path[4096], procs[8192];
            snprintf(ctrl, sizeof ctrl, "%.*s", (int)(c3 - c2 - 1), c2 + 1);
            snprintf(path, sizeof path, "%.*s", (int)plen, p);
            /* "name=systemd" is a super option as it is; a v2 line has no controllers. */
            if (pm_cgroup_procs_path(ctrl, path, mounts, procs, sizeof procs) < 0) {
                snprintf(err, errlen, "cgroup '%s:%s': hierarchy not mounted here", ctrl, path);
                goto out;
            }
            int fd = open(procs, O_WRONLY | O_CLOEXEC);
            char num[16];
            int n = snprintf(num, sizeof num, "%d", pid);
            if (fd < 0 || write(fd, num, (size_t)n) != n) {
                snprintf(err, errlen, "write %s: %s", procs, strerror(errno));
                if (fd >= 0) close(fd);
                goto out;
            }
            close(fd);
        }
        line = *end ? end + 1 : end;
    }
    rc = 0;
out:
    free(mine);
    free(theirs);
    free(mounts);
    return rc;
}

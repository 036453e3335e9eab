/*
 * cfgfile.c - persistence of the config directory's JSON files (cfgfile.h).
 */
#include "broker/cfgfile.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFGFILE_MAX_BYTES (256u * 1024 * 1024)

/* mkdir -p of the directory part of path. */
static int
cfgfile_mkdirs(const char *path)
{
    char buf[4096];

    if (strlen(path) >= sizeof(buf)) {
        return RMQ_ERR_TOOBIG;
    }
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            rmq_log_sys(RMQ_LOG_ERR, "cfg.mkdir", errno,
                        "could not create directory \"%s\"", buf);
            return RMQ_ERR_SYS;
        }
        *p = '/';
    }
    return 0;
}

static int
cfgfile_write_all(const char *path, const void *data, size_t len)
{
    const char *p = data;
    int         fd;
    int         err;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = errno;
        goto fail;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = errno;
            close(fd);
            goto fail;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        err = errno;
        close(fd);
        goto fail;
    }
    close(fd);
    return 0;

fail:
    rmq_log_sys(RMQ_LOG_ERR, "cfg.write", err, "could not write \"%s\"", path);
    return RMQ_ERR_SYS;
}

/* Whole file into a NUL-terminated malloc'd buffer; NULL if unreadable. */
static char *
cfgfile_read_all(const char *path, size_t *len_out)
{
    FILE  *f = fopen(path, "rbe");
    char  *text = NULL;
    long   size;
    size_t got;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        (unsigned long)size > CFGFILE_MAX_BYTES || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL) {
        fclose(f);
        return NULL;
    }
    got = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[got] = '\0';
    *len_out = got;
    return text;
}

static void
cfgfile_sync_dir(const char *path)
{
    char  dir[4096];
    char *slash;
    int   fd;

    if (strlen(path) >= sizeof(dir)) {
        return;
    }
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        return;
    }
    *slash = '\0';
    fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int
rmq_cfgfile_write(const char *path, const void *data, size_t len)
{
    char   tmp[4096 + 8];
    char   bak[4096 + 8];
    char  *prev;
    size_t prev_len = 0;
    int    rc;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
        snprintf(bak, sizeof(bak), "%s.bak", path) >= (int)sizeof(bak)) {
        return RMQ_ERR_TOOBIG;
    }
    if ((rc = cfgfile_mkdirs(path)) != 0 ||
        (rc = cfgfile_write_all(tmp, data, len)) != 0) {
        return rc;
    }
    /* keep the previous good content as .bak before replacing it */
    prev = cfgfile_read_all(path, &prev_len);
    if (prev != NULL && prev_len > 0) {
        rc = cfgfile_write_all(bak, prev, prev_len);
    }
    free(prev);
    if (rc != 0) {
        return rc;
    }
    if (rename(tmp, path) != 0) {
        rmq_log_sys(RMQ_LOG_ERR, "cfg.write", errno,
                    "could not rename \"%s\" to \"%s\"", tmp, path);
        return RMQ_ERR_SYS;
    }
    cfgfile_sync_dir(path);
    return 0;
}

static int
cfgfile_try(const char *path, rmq_cfgfile_parse_fn fn, void *arg)
{
    size_t len = 0;
    char  *text = cfgfile_read_all(path, &len);
    int    rc;

    if (text == NULL || len == 0) {
        free(text);
        return RMQ_ERR_NOTFOUND;
    }
    rc = fn(arg, text, len);
    free(text);
    if (rc != 0) {
        rmq_log(RMQ_LOG_WARN, "cfg.load", "cannot use \"%s\": %s", path,
                rmq_strerror(rc));
    }
    return rc;
}

int
rmq_cfgfile_load(const char *path, rmq_cfgfile_parse_fn fn, void *arg)
{
    char bak[4096 + 8];
    int  rc, rc_bak;

    rc = cfgfile_try(path, fn, arg);
    if (rc == 0) {
        return 0;
    }
    if (snprintf(bak, sizeof(bak), "%s.bak", path) >= (int)sizeof(bak)) {
        return rc;
    }
    rc_bak = cfgfile_try(bak, fn, arg);
    if (rc_bak == 0) {
        rmq_log(RMQ_LOG_WARN, "cfg.load", "loaded \"%s\" instead of \"%s\"",
                bak, path);
        return 0;
    }
    return rc == RMQ_ERR_NOTFOUND ? rc_bak : rc;
}

/* After '{' or ',' (outside strings): is a bare integer key next? */
static size_t
lenient_bare_key_len(const char *text, size_t len, size_t i)
{
    size_t j = i;

    while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' ||
                       text[j] == '\r')) {
        j++;
    }
    if (j < len && text[j] == '-') {
        j++;
    }
    if (j >= len || text[j] < '0' || text[j] > '9') {
        return 0;
    }
    while (j < len && text[j] >= '0' && text[j] <= '9') {
        j++;
    }
    return j - i;
}

/*
 * Copy text, quoting every bare integer object key.  Keys only start
 * right after '{' or after ',' inside an object, so a stack of open
 * containers tells a key from an array element ([1,2]).
 */
static void
lenient_quote_keys(const char *text, size_t len, rmq_buf *out)
{
    char   open[256];
    size_t depth = 0;
    bool   in_str = false;
    bool   escaped = false;

    for (size_t i = 0; i < len; i++) {
        char   c = text[i];
        size_t n;

        rmq_buf_u8(out, (uint8_t)c);
        if (in_str) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == sizeof(open)) {
                return; /* too deep: leave the rest to fail parsing */
            }
            open[depth++] = c;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
        if (c != '{' && !(c == ',' && depth > 0 && open[depth - 1] == '{')) {
            continue;
        }
        n = lenient_bare_key_len(text, len, i + 1);
        if (n > 0) {
            size_t k = i + 1;
            while (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' ||
                   text[k] == '\r') {
                k++;
            }
            rmq_buf_u8(out, '"');
            rmq_buf_append(out, text + k, i + 1 + n - k);
            rmq_buf_u8(out, '"');
            i += n;
        }
    }
}

json_t *
rmq_json_load_lenient(const char *text, size_t len)
{
    json_t *doc = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    rmq_buf fixed;

    if (doc != NULL) {
        return doc;
    }
    rmq_buf_init(&fixed);
    lenient_quote_keys(text, len, &fixed);
    if (!fixed.oom) {
        doc = json_loadb((const char *)fixed.data, fixed.len, 0, NULL);
    }
    rmq_buf_free(&fixed);
    return doc;
}

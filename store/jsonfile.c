/*
 * jsonfile.c - crash-safe config-file write, load with .bak fallback,
 * bare-integer-key tolerance (see jsonfile.h).  Runs in whichever actor
 * owns a file; touches only that file, its .tmp and its .bak.
 */
#include "store/jsonfile.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "store/mfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Create path with exactly these bytes, fsync'd.  Returns an errno. */
static int
jf_write_synced(const char *path, const char *text, size_t len)
{
    int    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int    err = 0;
    size_t done = 0;

    if (fd < 0) {
        return errno;
    }
    while (err == 0 && done < len) {
        ssize_t w = write(fd, text + done, len - done);

        if (w < 0 && errno != EINTR) {
            err = errno;
        } else if (w > 0) {
            done += (size_t)w;
        }
    }
    if (err == 0 && fsync(fd) != 0) {
        err = errno;
    }
    close(fd);
    return err;
}

/* Whole file into a malloc'd NUL-terminated string; errno on failure. */
static int
jf_read_all(const char *path, char **out, size_t *len)
{
    rmq_buf b;
    int     fd = open(path, O_RDONLY | O_CLOEXEC);
    int     err = 0;

    if (fd < 0) {
        return errno;
    }
    rmq_buf_init(&b);
    for (;;) {
        ssize_t n;

        if (rmq_buf_reserve(&b, 65536) != 0) {
            err = ENOMEM;
            break;
        }
        n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = n < 0 ? errno : 0;
            break;
        }
        b.len += (size_t)n;
    }
    close(fd);
    if (err != 0) {
        rmq_buf_free(&b);
        return err;
    }
    rmq_buf_cstr(&b);
    *out = (char *)b.data;
    *len = b.len;
    return 0;
}

/* <f>.bak <- current <f>, atomically; nothing to do without <f>. */
static int
jf_backup(const char *path)
{
    char   bak[PATH_MAX], tmp[PATH_MAX];
    char  *prev = NULL;
    size_t len = 0;
    int    err;

    err = jf_read_all(path, &prev, &len);
    if (err == ENOENT || (err == 0 && len == 0)) {
        free(prev);
        return 0;
    }
    if (err != 0) {
        return err;
    }
    snprintf(bak, sizeof(bak), "%s.bak", path);
    snprintf(tmp, sizeof(tmp), "%s.bak.tmp", path);
    err = jf_write_synced(tmp, prev, len);
    free(prev);
    if (err == 0 && rename(tmp, bak) != 0) {
        err = errno;
    }
    return err;
}

/* The directory holding path (which may not exist yet on a fresh store). */
static void
jf_dir_of(const char *path, char *dir, size_t cap)
{
    char tmp[PATH_MAX];

    snprintf(tmp, sizeof(tmp), "%s", path);
    snprintf(dir, cap, "%s", dirname(tmp));
}

int
rmq_jsonfile_write(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int  err;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) - 8) {
        return RMQ_ERR_INVAL;
    }
    jf_dir_of(path, dir, sizeof(dir));
    (void)rmq_mfq_mkdirs(dir);
    err = jf_write_synced(tmp, text, len);
    if (err == 0) {
        err = jf_backup(path);
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
    }
    if (err != 0) {
        rmq_log_sys(RMQ_LOG_ERR, "json.write", err, "could not write \"%s\"",
                    path);
        return err == ENOSPC ? RMQ_ERR_FULL : RMQ_ERR_SYS;
    }
    rmq_mfq_sync_dir(dir);
    return 0;
}

int
rmq_jsonfile_save(const char *path, const json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(4) | JSON_SORT_KEYS);
    int   rc;

    if (text == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rc = rmq_jsonfile_write(path, text, strlen(text));
    free(text);
    return rc;
}

/* After '{' or ',': a bare (optionally negative) integer before ':'? */
static size_t
jf_bare_key_len(const char *s, size_t len, size_t i)
{
    size_t j = i;

    if (j < len && s[j] == '-') {
        j++;
    }
    if (j >= len || s[j] < '0' || s[j] > '9') {
        return 0;
    }
    while (j < len && s[j] >= '0' && s[j] <= '9') {
        j++;
    }
    for (size_t k = j; k < len; k++) {
        if (s[k] == ':') {
            return j - i;
        }
        if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r' && s[k] != '\n') {
            return 0;
        }
    }
    return 0;
}

/* Copy whitespace after a '{' or ',', then quote a bare key if there. */
static size_t
jf_after_open(const char *s, size_t len, size_t i, rmq_buf *b)
{
    size_t n;

    while (i < len &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
        rmq_buf_u8(b, (uint8_t)s[i++]);
    }
    n = jf_bare_key_len(s, len, i);
    if (n > 0) {
        rmq_buf_u8(b, '"');
        rmq_buf_append(b, s + i, n);
        rmq_buf_u8(b, '"');
        i += n;
    }
    return i;
}

int
rmq_json_quote_bare_keys(const char *in, size_t len, char **out,
                         size_t *out_len)
{
    rmq_buf b;
    bool    in_str = false, esc = false;
    size_t  i = 0;

    rmq_buf_init(&b);
    rmq_buf_reserve(&b, len + 64);
    while (i < len) {
        char c = in[i++];

        rmq_buf_u8(&b, (uint8_t)c);
        if (in_str) {
            in_str = esc || c != '"';
            esc = !esc && c == '\\';
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == ',') {
            i = jf_after_open(in, len, i, &b);
        }
    }
    rmq_buf_cstr(&b);
    if (b.oom) {
        rmq_buf_free(&b);
        return RMQ_ERR_NOMEM;
    }
    *out = (char *)b.data;
    *out_len = b.len;
    return 0;
}

/* Parse one file: 0, NOTFOUND (missing/empty), CORRUPT, NOMEM, SYS. */
static int
jf_parse_file(const char *path, json_t **out)
{
    char        *text = NULL, *quoted = NULL;
    size_t       len = 0, qlen;
    json_error_t jerr;
    int          err = jf_read_all(path, &text, &len);

    if (err != 0 || len == 0) {
        free(text);
        if (err != 0 && err != ENOENT) {
            rmq_log_sys(RMQ_LOG_WARN, "json.load", err, "could not read \"%s\"",
                        path);
            return RMQ_ERR_SYS;
        }
        return RMQ_ERR_NOTFOUND;
    }
    err = rmq_json_quote_bare_keys(text, len, &quoted, &qlen);
    free(text);
    if (err != 0) {
        return err;
    }
    *out = json_loadb(quoted, qlen, 0, &jerr);
    free(quoted);
    if (*out == NULL) {
        rmq_log(RMQ_LOG_WARN, "json.load", "cannot parse \"%s\": %s at %d:%d",
                path, jerr.text, jerr.line, jerr.column);
        return RMQ_ERR_CORRUPT;
    }
    return 0;
}

int
rmq_jsonfile_load(const char *path, json_t **out)
{
    char bak[PATH_MAX];
    int  rc, rc_bak;

    rc = jf_parse_file(path, out);
    if (rc == 0 || rc == RMQ_ERR_NOMEM) {
        return rc;
    }
    snprintf(bak, sizeof(bak), "%s.bak", path);
    rc_bak = jf_parse_file(bak, out);
    if (rc_bak == 0) {
        rmq_log(RMQ_LOG_WARN, "json.load", "loaded \"%s\" instead of \"%s\"",
                bak, path);
        return 0;
    }
    /* both missing is an empty config; anything else is damage */
    return rc == RMQ_ERR_NOTFOUND && rc_bak == RMQ_ERR_NOTFOUND
               ? RMQ_ERR_NOTFOUND
               : RMQ_ERR_CORRUPT;
}

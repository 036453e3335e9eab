/*
 * fastjson.c - see fastjson.h.  A small recursive-descent copier: it
 * walks the text once, copying strings and scalars verbatim and
 * rewriting object keys; jansson then does the real validation.
 */
#include "cli/fastjson.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FJ_DEPTH_MAX 64

struct fj {
    const char *p;
    const char *end;
    rmq_buf    *out;
    int         depth;
};

static int fj_value(struct fj *f);

static void
fj_ws(struct fj *f)
{
    while (f->p < f->end &&
           (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r')) {
        f->p++;
    }
}

static bool
fj_at(struct fj *f, char ch)
{
    fj_ws(f);
    return f->p < f->end && *f->p == ch;
}

/* A string literal, copied as is (escapes included). */
static int
fj_string(struct fj *f)
{
    const char *start = f->p++;

    while (f->p < f->end && *f->p != '"') {
        if (*f->p == '\\') {
            f->p++;
        }
        f->p++;
    }
    if (f->p >= f->end) {
        return RMQ_ERR_PROTO;
    }
    f->p++;
    rmq_buf_append(f->out, start, (size_t)(f->p - start));
    return 0;
}

/* The length of a bare token (number, true, false, null, bare key). */
static size_t
fj_token_len(const struct fj *f)
{
    const char *q = f->p;

    while (q < f->end &&
           (strchr("+-.", *q) != NULL || (*q >= '0' && *q <= '9') ||
            (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
            *q == '_')) {
        q++;
    }
    return (size_t)(q - f->p);
}

static int
fj_scalar(struct fj *f)
{
    size_t n = fj_token_len(f);

    if (n == 0) {
        return RMQ_ERR_PROTO;
    }
    rmq_buf_append(f->out, f->p, n);
    f->p += n;
    return 0;
}

/* A key of an ordinary object: a string, or a bare token we quote. */
static int
fj_plain_key(struct fj *f)
{
    size_t n;

    if (f->p < f->end && *f->p == '"') {
        return fj_string(f);
    }
    n = fj_token_len(f);
    if (n == 0) {
        return RMQ_ERR_PROTO;
    }
    rmq_buf_append_str(f->out, "\"");
    rmq_buf_append(f->out, f->p, n);
    rmq_buf_append_str(f->out, "\"");
    f->p += n;
    return 0;
}

/* One entry "key:value"; as {"key":K,"value":V} when pairs is set. */
static int
fj_entry(struct fj *f, bool pairs)
{
    int rc;

    fj_ws(f);
    if (pairs) {
        rmq_buf_append_str(f->out, "{\"key\":");
        rc = fj_value(f);
    } else {
        rc = fj_plain_key(f);
    }
    if (rc != 0 || !fj_at(f, ':')) {
        return RMQ_ERR_PROTO;
    }
    f->p++;
    rmq_buf_append_str(f->out, pairs ? ",\"value\":" : ":");
    if ((rc = fj_value(f)) != 0) {
        return rc;
    }
    if (pairs) {
        rmq_buf_append_str(f->out, "}");
    }
    return 0;
}

static int
fj_object(struct fj *f)
{
    bool pairs;
    int  rc;

    f->p++;
    if (fj_at(f, '}')) {
        f->p++;
        rmq_buf_append_str(f->out, "{}");
        return 0;
    }
    if (f->p >= f->end) {
        return RMQ_ERR_PROTO;
    }
    pairs = *f->p == '{' || *f->p == '[';
    rmq_buf_append_str(f->out, pairs ? "[" : "{");
    for (;;) {
        if ((rc = fj_entry(f, pairs)) != 0) {
            return rc;
        }
        if (fj_at(f, ',')) {
            f->p++;
            rmq_buf_append_str(f->out, ",");
            continue;
        }
        if (!fj_at(f, '}')) {
            return RMQ_ERR_PROTO;
        }
        f->p++;
        rmq_buf_append_str(f->out, pairs ? "]" : "}");
        return 0;
    }
}

static int
fj_array(struct fj *f)
{
    int rc;

    f->p++;
    rmq_buf_append_str(f->out, "[");
    if (fj_at(f, ']')) {
        f->p++;
        rmq_buf_append_str(f->out, "]");
        return 0;
    }
    for (;;) {
        if ((rc = fj_value(f)) != 0) {
            return rc;
        }
        if (fj_at(f, ',')) {
            f->p++;
            rmq_buf_append_str(f->out, ",");
            continue;
        }
        if (!fj_at(f, ']')) {
            return RMQ_ERR_PROTO;
        }
        f->p++;
        rmq_buf_append_str(f->out, "]");
        return 0;
    }
}

static int
fj_value(struct fj *f)
{
    int rc;

    fj_ws(f);
    if (f->p >= f->end) {
        return RMQ_ERR_PROTO;
    }
    if (*f->p == '"') {
        return fj_string(f);
    }
    if (*f->p != '{' && *f->p != '[') {
        return fj_scalar(f);
    }
    if (++f->depth > FJ_DEPTH_MAX) {
        return RMQ_ERR_PROTO;
    }
    rc = *f->p == '{' ? fj_object(f) : fj_array(f);
    f->depth--;
    return rc;
}

int
rmqctl_json_load(const void *text, size_t len, json_t **out)
{
    rmq_buf   buf;
    struct fj f = {.p = text, .end = (const char *)text + len, .out = &buf};
    int       rc;

    rmq_buf_init(&buf);
    rc = fj_value(&f);
    fj_ws(&f);
    if (rc == 0 && f.p != f.end) {
        rc = RMQ_ERR_PROTO;
    }
    if (rc == 0 && buf.oom) {
        rc = RMQ_ERR_NOMEM;
    }
    *out = NULL;
    if (rc == 0) {
        *out = json_loadb((const char *)buf.data, buf.len, 0, NULL);
        rc = *out != NULL ? 0 : RMQ_ERR_PROTO;
    }
    rmq_buf_free(&buf);
    return rc;
}

void
rmqctl_json_map_each(json_t *map,
                     void (*fn)(json_t *key, json_t *value, void *arg),
                     void *arg)
{
    const char *k;
    json_t     *v;
    size_t      i;

    if (json_is_object(map)) {
        json_object_foreach(map, k, v)
        {
            json_t *key = json_string(k);
            fn(key, v, arg);
            json_decref(key);
        }
        return;
    }
    json_array_foreach(map, i, v)
    {
        fn(json_object_get(v, "key"), json_object_get(v, "value"), arg);
    }
}

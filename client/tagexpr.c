/*
 * tagexpr.c - tag expressions (tagexpr.h).  Pure; any thread.
 */
#include "client/tagexpr.h"

#include "client/cerr.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool
tagexpr_has(const rmq_tagexpr *t, const char *tag, size_t len)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(t->tags[i]) == len && memcmp(t->tags[i], tag, len) == 0) {
            return true;
        }
    }
    return false;
}

static int
tagexpr_add(rmq_tagexpr *t, const char *tag, size_t len)
{
    char   **tags;
    int32_t *codes;

    if (tagexpr_has(t, tag, len)) {
        return 0;
    }
    tags = realloc(t->tags, (t->n + 1) * sizeof(*tags));
    if (tags == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    t->tags = tags;
    codes = realloc(t->codes, (t->n + 1) * sizeof(*codes));
    if (codes == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    t->codes = codes;
    t->tags[t->n] = strndup(tag, len);
    if (t->tags[t->n] == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    t->codes[t->n] = rmq_java_hash(tag, len);
    t->n++;
    return 0;
}

/* One item between "||" separators, trimmed like Java's String.trim. */
static int
tagexpr_item(rmq_tagexpr *t, const char *s, size_t len)
{
    while (len > 0 && (unsigned char)s[0] <= ' ') {
        s++;
        len--;
    }
    while (len > 0 && (unsigned char)s[len - 1] <= ' ') {
        len--;
    }
    return len > 0 ? tagexpr_add(t, s, len) : 0;
}

int
rmq_tagexpr_parse(const char *expr, rmq_tagexpr *out)
{
    const char *p;
    int         rc = 0;

    memset(out, 0, sizeof(*out));
    if (expr == NULL || expr[0] == '\0' || strcmp(expr, "*") == 0) {
        out->all = true;
        out->text = strdup("*");
        return out->text != NULL ? 0 : RMQ_CLIENT_ERR_NOMEM;
    }
    out->text = strdup(expr);
    if (out->text == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    p = expr;
    for (;;) {
        const char *sep = strstr(p, "||");
        size_t      len = sep != NULL ? (size_t)(sep - p) : strlen(p);

        if ((rc = tagexpr_item(out, p, len)) != 0 || sep == NULL) {
            break;
        }
        p = sep + 2;
    }
    if (rc == 0 && out->n == 0) {
        rc = RMQ_CLIENT_ERR_INVALID;
    }
    if (rc != 0) {
        rmq_tagexpr_free(out);
    }
    return rc;
}

void
rmq_tagexpr_free(rmq_tagexpr *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->tags[i]);
    }
    free(t->tags);
    free(t->codes);
    free(t->text);
    memset(t, 0, sizeof(*t));
}

bool
rmq_tagexpr_match(const rmq_tagexpr *t, const char *tag)
{
    if (t->all) {
        return true;
    }
    return tag != NULL && tagexpr_has(t, tag, strlen(tag));
}

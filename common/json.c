/*
 * json.c - see json.h.
 */
#include "common/json.h"

#include "common/err.h"

static int
json_to_buf(const char *text, size_t len, void *arg)
{
    rmq_buf *out = arg;

    rmq_buf_append(out, text, len);
    return out->oom ? -1 : 0;
}

int
rmq_json_append(rmq_buf *out, json_t *doc, size_t flags)
{
    int rc;

    if (doc == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rc = json_dump_callback(doc, json_to_buf, out, flags);
    json_decref(doc);
    return rc == 0 && !out->oom ? 0 : RMQ_ERR_NOMEM;
}

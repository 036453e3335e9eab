/*
 * json.h - jansson documents into rmq_buf: the one way the broker, librmq
 * and rmqctl turn a built JSON document into a frame body.  Any process;
 * no shared state.
 */
#ifndef RMQ_JSON_H
#define RMQ_JSON_H

#include "common/buf.h"

#include <jansson.h>
#include <stddef.h>

/*
 * Serialise doc with jansson's flags (JSON_COMPACT | JSON_SORT_KEYS, ...)
 * onto the end of out, then release doc (the reference is consumed, so a
 * json_pack result can be passed straight in).  A NULL doc (a failed
 * json_pack) and a failed growth of out both return RMQ_ERR_NOMEM.
 */
int rmq_json_append(rmq_buf *out, json_t *doc, size_t flags);

#endif

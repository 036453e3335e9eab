/*
 * fastjson.h - read the JSON bodies Java brokers and name servers write
 * with fastjson (spec/remoting-protocol.md 1.4) into jansson values.
 * rmqctl only; pure functions.
 *
 * Two quirks are rewritten textually before jansson sees the text:
 *   - bare numeric keys are quoted:  {0:"a"}  ->  {"0":"a"};
 *   - a map keyed by whole objects (MessageQueue in ConsumeStats and
 *     TopicStatsTable) becomes an array of key/value pairs:
 *       {{"brokerName":"b","queueId":0,"topic":"t"}:{...},...}
 *       -> [{"key":{"brokerName":"b",...},"value":{...}},...]
 *     An object is such a map when its first key is an object or array.
 * Standard JSON passes through unchanged.
 */
#ifndef RMQ_CLI_FASTJSON_H
#define RMQ_CLI_FASTJSON_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parse len bytes of text.  Returns 0 and a new reference in *out, or
 * RMQ_ERR_PROTO (not JSON even with the rewrites, or nested deeper than
 * 64 levels) or RMQ_ERR_NOMEM.
 */
int rmqctl_json_load(const void *text, size_t len, json_t **out);

/*
 * The entries of a map that may have come out either way: an object
 * (string keys) or an array of {"key","value"} pairs (object keys).
 * Calls fn(key, value, arg) for each entry; key is a JSON string for an
 * object, whatever the pair held otherwise.  Non-containers have no
 * entries.
 */
void rmqctl_json_map_each(json_t *map,
                          void (*fn)(json_t *key, json_t *value, void *arg),
                          void *arg);

#endif

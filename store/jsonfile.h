/*
 * jsonfile.h - RocketMQ's config files under <storeRoot>/config/
 * (topics.json, consumerOffset.json, delayOffset.json,
 * subscriptionGroup.json; spec/store-format.md 7): crash-safe write with
 * a .bak copy of the previous content, and load with fallback to .bak.
 *
 * Write (Java MixAll.string2File writes <f>.tmp, copies <f> to <f>.bak,
 * deletes <f>, renames <f>.tmp to <f>): we write and fsync <f>.tmp, copy
 * the current <f> to <f>.bak (through <f>.bak.tmp + rename, so .bak is
 * never torn either), then rename <f>.tmp over <f> and fsync the
 * directory.  rename() replaces <f> atomically, so unlike Java there is
 * no moment without <f>: at any crash point <f> holds either the old or
 * the new content, and Java reads our files the same way.
 *
 * Bare integer keys: fastjson writes maps with integer keys unquoted
 * (consumerOffset.json {"offsetTable":{"t@g":{0:12,1:5}}}, delayOffset.json
 * {"offsetTable":{1:0,2:17}}), which is not JSON.  Loading quotes such
 * keys textually before jansson parses the text, so both forms load.
 * Saving writes standard JSON with quoted keys ("0":12): fastjson reads
 * quoted keys into Integer-keyed maps, and the files stay readable by
 * any JSON tool.
 *
 * Used by the processes that own each file (clwriter: topics.json;
 * rebalancer: consumerOffset.json, subscriptionGroup.json; scheduler:
 * delayOffset.json).  One writer per file; no shared memory.
 */
#ifndef RMQ_STORE_JSONFILE_H
#define RMQ_STORE_JSONFILE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Write len bytes of text as path by the procedure above, creating the
 * file's directory if needed.  Blocks.
 */
int rmq_jsonfile_write(const char *path, const char *text, size_t len);
/* Serialise root (quoted keys, indented, sorted keys) and write it. */
int rmq_jsonfile_save(const char *path, const json_t *root);
/*
 * Load path, or path.bak when path is missing, empty or unparsable
 * (logged).  Bare integer keys are accepted.  Returns 0 and a new
 * reference, RMQ_ERR_NOTFOUND when neither file has content, or
 * RMQ_ERR_CORRUPT when what exists does not parse.
 */
int rmq_jsonfile_load(const char *path, json_t **out);

/*
 * Quote bare integer object keys ({0:1} -> {"0":1}), leaving strings
 * alone.  *out is malloc'd and NUL-terminated.  Returns 0 or NOMEM.
 */
int rmq_json_quote_bare_keys(const char *in, size_t len, char **out,
                             size_t *out_len);

#endif

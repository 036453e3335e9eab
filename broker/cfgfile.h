/*
 * cfgfile.h - persistence of the rebalancer's JSON files in config/ (spec
 * store-format.md 7): write with Java's MixAll.string2File procedure, read
 * with the .bak fallback, and parse fastjson's bare integer object keys.
 *
 * Interim: the store library's store/jsonfile.h (branch `store`) will
 * provide the same for every actor; once it is on main the rebalancer
 * switches to it and this file goes away.  Pure file I/O, no shared
 * state; may block on disk (fsync).
 */
#ifndef RMQ_BROKER_CFGFILE_H
#define RMQ_BROKER_CFGFILE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Replace the file at path with data: write <path>.tmp and fsync it, copy
 * the current <path> (if any) to <path>.bak, rename the .tmp over <path>,
 * fsync the directory.  Creates missing parent directories.  Returns 0 or
 * RMQ_ERR_SYS (logged).
 */
int rmq_cfgfile_write(const char *path, const void *data, size_t len);

/*
 * Called with a whole file's text (NUL-terminated, len bytes).  Returns 0
 * when the text was accepted, else an rmq_err (the caller then tries the
 * .bak copy).  It may be called twice, so it must not keep half-applied
 * state from a rejected text.
 */
typedef int (*rmq_cfgfile_parse_fn)(void *arg, const char *text, size_t len);

/*
 * Load path through fn; when path is missing, empty or rejected, load
 * <path>.bak instead.  Returns 0, RMQ_ERR_NOTFOUND when neither file has
 * content, or fn's error when both were rejected.
 */
int rmq_cfgfile_load(const char *path, rmq_cfgfile_parse_fn fn, void *arg);

/*
 * Parse JSON text, also accepting fastjson's bare integer object keys
 * ({0:12,1:7}, whitespace allowed).  NULL when it is not JSON even then.
 */
json_t *rmq_json_load_lenient(const char *text, size_t len);

#endif

/*
 * cerr.h - librmq's error reports and per-instance logging.
 *
 * Every public call fills an optional rmq_error; these helpers format it
 * and return the code, so a failure path reads
 *     return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "topic is empty");
 * Logging goes to the instance's log callback (rmq_clog), or, without
 * one, to stderr through the common logger.  No global state.
 */
#ifndef RMQ_CLIENT_CERR_H
#define RMQ_CLIENT_CERR_H

#include "rmq/client.h"

#include <stdarg.h>

/* Fill err (may be NULL) and return code. */
int rmq_cerr_set(rmq_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * A server's error response: RMQ_CLIENT_ERR_BROKER with response_code,
 * message "<what>: <server> answered <code> (<NAME>): <remark>".
 */
int rmq_cerr_response(rmq_error *err, const char *what, const char *server,
                      int response_code, const char *remark);
/* Copy src into dst (either may be NULL) and return src's code. */
int rmq_cerr_copy(rmq_error *dst, const rmq_error *src);
/* The code of an rmq_err (common/err.h) as a client error code. */
int rmq_cerr_from_rmq(int rmq_err);
/* The RocketMQ name of a response code ("TOPIC_NOT_EXIST") or "?". */
const char *rmq_cerr_resp_name(int response_code);

typedef struct rmq_clog {
    rmq_log_fn fn; /* NULL: the common logger on stderr */
    void      *arg;
    int        level;     /* lines above this level are not formatted */
    char       ident[64]; /* "producer PG@10.0.0.1@123#456" */
} rmq_clog;

void rmq_clog_emit(const rmq_clog *log, int level, const char *msgid,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define rmq_clog(log, lvl, msgid, ...)                                         \
    do {                                                                       \
        if ((lvl) <= (log)->level) {                                           \
            rmq_clog_emit((log), (lvl), (msgid), __VA_ARGS__);                 \
        }                                                                      \
    } while (0)

#endif

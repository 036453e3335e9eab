/*
 * log.h - one line per event on stderr, journald friendly.
 *
 * Line format:
 *   2026-11-21T06:54:00.123Z INFO  clwriter[1234] cl.start: text
 * time (UTC, ms), level, process identity (set once by the runner or the
 * tool's main), a short stable message id, then the text.  Under systemd
 * (JOURNAL_STREAM set) each line is prefixed with its syslog priority
 * "<N>" so journald keeps the level.  Each line is one write(2), so lines
 * from different processes sharing stderr never interleave.
 *
 * The level is checked before anything is formatted.  Never call these
 * from a signal handler.
 */
#ifndef RMQ_LOG_H
#define RMQ_LOG_H

#include <stdarg.h>

enum rmq_log_level {
    RMQ_LOG_ERR = 0,
    RMQ_LOG_WARN = 1,
    RMQ_LOG_INFO = 2,
    RMQ_LOG_DEBUG = 3,
};

extern int rmq_log_level_cur;

/* Set the identity printed on every line ("supervisor", "clwriter", ...). */
void rmq_log_init(const char *ident);
void rmq_log_set_level(int level);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int         rmq_log_level_parse(const char *name);
const char *rmq_log_level_name(int level);

void rmq_log_emit(int level, const char *msgid, int errnum, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
void rmq_log_emitv(int level, const char *msgid, int errnum, const char *fmt,
                   va_list ap);

#define rmq_log(level, msgid, ...)                                             \
    do {                                                                       \
        if ((level) <= rmq_log_level_cur) {                                    \
            rmq_log_emit((level), (msgid), 0, __VA_ARGS__);                    \
        }                                                                      \
    } while (0)

/* As rmq_log, appending ": <strerror(errnum)>" to the text. */
#define rmq_log_sys(level, msgid, errnum, ...)                                 \
    do {                                                                       \
        if ((level) <= rmq_log_level_cur) {                                    \
            rmq_log_emit((level), (msgid), (errnum), __VA_ARGS__);             \
        }                                                                      \
    } while (0)

/* For our own bugs only: never for bytes from the network or the disk. */
#define RMQ_ASSERT(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            rmq_assert_fail(#cond, __FILE__, __LINE__);                        \
        }                                                                      \
    } while (0)

void rmq_assert_fail(const char *what, const char *file, int line)
    __attribute__((noreturn));

#endif

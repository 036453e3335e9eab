/*
 * log.c - stderr logger (see log.h).  Per-process state: the identity and
 * the level, set at start by the process's main or the actor runner.
 */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int rmq_log_level_cur = RMQ_LOG_INFO;

static char log_ident[32] = "rmq";
static int  log_journal = -1;

static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const log_parse_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities for journald: err, warning, info, debug */
static const int log_prio[] = {3, 4, 6, 7};

void
rmq_log_init(const char *ident)
{
    snprintf(log_ident, sizeof(log_ident), "%s", ident);
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
rmq_log_set_level(int level)
{
    if (level >= RMQ_LOG_ERR && level <= RMQ_LOG_DEBUG) {
        rmq_log_level_cur = level;
    }
}

int
rmq_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, log_parse_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *
rmq_log_level_name(int level)
{
    if (level < 0 || level > RMQ_LOG_DEBUG) {
        return "?";
    }
    return log_parse_names[level];
}

void
rmq_log_emitv(int level, const char *msgid, int errnum, const char *fmt,
              va_list ap)
{
    char           line[2048];
    size_t         n = 0;
    struct timeval tv;
    struct tm      tm;
    int            w;

    if (level < 0 || level > RMQ_LOG_DEBUG) {
        level = RMQ_LOG_ERR;
    }
    if (log_journal < 0) {
        log_journal = getenv("JOURNAL_STREAM") != NULL;
    }
    if (log_journal) {
        n += (size_t)snprintf(line, sizeof(line), "<%d>", log_prio[level]);
    }
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n += strftime(line + n, sizeof(line) - n, "%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof(line) - n,
                 ".%03ldZ %-5s %s[%ld] %s: ", (long)(tv.tv_usec / 1000),
                 log_names[level], log_ident, (long)getpid(), msgid);
    n += w > 0 ? (size_t)w : 0;
    if (n < sizeof(line)) {
        w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        n += w > 0 ? (size_t)w : 0;
    }
    if (errnum != 0 && n < sizeof(line)) {
        w = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
        n += w > 0 ? (size_t)w : 0;
    }
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* one write per line: lines from several processes never interleave */
    ssize_t r = write(STDERR_FILENO, line, n);
    (void)r;
}

void
rmq_log_emit(int level, const char *msgid, int errnum, const char *fmt, ...)
{
    va_list ap;
    int     saved = errno;

    va_start(ap, fmt);
    rmq_log_emitv(level, msgid, errnum, fmt, ap);
    va_end(ap);
    errno = saved;
}

void
rmq_assert_fail(const char *what, const char *file, int line)
{
    rmq_log_emit(RMQ_LOG_ERR, "assert", 0, "assertion failed: %s (%s:%d)", what,
                 file, line);
    abort();
}

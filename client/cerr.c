/*
 * cerr.c - error reports and per-instance logging (cerr.h).  Runs on any
 * thread of a librmq instance; touches no shared data.
 */
#include "client/cerr.h"

#include "common/err.h"
#include "common/log.h"
#include "proto/codes.h"

#include <stdio.h>
#include <string.h>

static const char *const cerr_names[] = {
    [RMQ_CLIENT_OK] = "ok",
    [RMQ_CLIENT_ERR_INVALID] = "invalid argument",
    [RMQ_CLIENT_ERR_NOMEM] = "out of memory",
    [RMQ_CLIENT_ERR_TIMEOUT] = "timeout",
    [RMQ_CLIENT_ERR_BROKER] = "error response from server",
    [RMQ_CLIENT_ERR_NO_ROUTE] = "no route",
    [RMQ_CLIENT_ERR_CONNECT] = "connection failed",
    [RMQ_CLIENT_ERR_CLOSED] = "closed",
    [RMQ_CLIENT_ERR_PROTO] = "malformed answer",
    [RMQ_CLIENT_ERR_TOO_BIG] = "too big",
    [RMQ_CLIENT_ERR_SYS] = "system error",
};

const char *
rmq_client_strerror(int code)
{
    if (code < 0 ||
        (size_t)code >= sizeof(cerr_names) / sizeof(cerr_names[0]) ||
        cerr_names[code] == NULL) {
        return "unknown error";
    }
    return cerr_names[code];
}

int
rmq_cerr_set(rmq_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return code;
    }
    err->code = code;
    err->response_code = 0;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

int
rmq_cerr_response(rmq_error *err, const char *what, const char *server,
                  int response_code, const char *remark)
{
    rmq_cerr_set(err, RMQ_CLIENT_ERR_BROKER, "%s: %s answered %d (%s)%s%s",
                 what, server, response_code, rmq_cerr_resp_name(response_code),
                 remark != NULL ? ": " : "", remark != NULL ? remark : "");
    if (err != NULL) {
        err->response_code = response_code;
    }
    return RMQ_CLIENT_ERR_BROKER;
}

int
rmq_cerr_copy(rmq_error *dst, const rmq_error *src)
{
    if (src == NULL) {
        return RMQ_CLIENT_OK;
    }
    if (dst != NULL && dst != src) {
        *dst = *src;
    }
    return src->code;
}

int
rmq_cerr_from_rmq(int rmq_err)
{
    switch (rmq_err) {
    case RMQ_OK:
        return RMQ_CLIENT_OK;
    case RMQ_ERR_NOMEM:
        return RMQ_CLIENT_ERR_NOMEM;
    case RMQ_ERR_INVAL:
    case RMQ_ERR_RANGE:
        return RMQ_CLIENT_ERR_INVALID;
    case RMQ_ERR_PROTO:
    case RMQ_ERR_CORRUPT:
    case RMQ_ERR_VERSION:
        return RMQ_CLIENT_ERR_PROTO;
    case RMQ_ERR_TOOBIG:
        return RMQ_CLIENT_ERR_TOO_BIG;
    case RMQ_ERR_TIMEOUT:
        return RMQ_CLIENT_ERR_TIMEOUT;
    case RMQ_ERR_CLOSED:
        return RMQ_CLIENT_ERR_CLOSED;
    default:
        return RMQ_CLIENT_ERR_SYS;
    }
}

const char *
rmq_cerr_resp_name(int code)
{
    switch (code) {
    case RMQ_RESP_SUCCESS:
        return "SUCCESS";
    case RMQ_RESP_SYSTEM_ERROR:
        return "SYSTEM_ERROR";
    case RMQ_RESP_SYSTEM_BUSY:
        return "SYSTEM_BUSY";
    case RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED:
        return "REQUEST_CODE_NOT_SUPPORTED";
    case RMQ_RESP_TRANSACTION_FAILED:
        return "TRANSACTION_FAILED";
    case RMQ_RESP_FLUSH_DISK_TIMEOUT:
        return "FLUSH_DISK_TIMEOUT";
    case RMQ_RESP_SLAVE_NOT_AVAILABLE:
        return "SLAVE_NOT_AVAILABLE";
    case RMQ_RESP_FLUSH_SLAVE_TIMEOUT:
        return "FLUSH_SLAVE_TIMEOUT";
    case RMQ_RESP_MESSAGE_ILLEGAL:
        return "MESSAGE_ILLEGAL";
    case RMQ_RESP_SERVICE_NOT_AVAILABLE:
        return "SERVICE_NOT_AVAILABLE";
    case RMQ_RESP_VERSION_NOT_SUPPORTED:
        return "VERSION_NOT_SUPPORTED";
    case RMQ_RESP_NO_PERMISSION:
        return "NO_PERMISSION";
    case RMQ_RESP_TOPIC_NOT_EXIST:
        return "TOPIC_NOT_EXIST";
    case RMQ_RESP_TOPIC_EXIST_ALREADY:
        return "TOPIC_EXIST_ALREADY";
    case RMQ_RESP_PULL_NOT_FOUND:
        return "PULL_NOT_FOUND";
    case RMQ_RESP_PULL_RETRY_IMMEDIATELY:
        return "PULL_RETRY_IMMEDIATELY";
    case RMQ_RESP_PULL_OFFSET_MOVED:
        return "PULL_OFFSET_MOVED";
    case RMQ_RESP_QUERY_NOT_FOUND:
        return "QUERY_NOT_FOUND";
    case RMQ_RESP_SUBSCRIPTION_PARSE_FAILED:
        return "SUBSCRIPTION_PARSE_FAILED";
    case RMQ_RESP_SUBSCRIPTION_NOT_EXIST:
        return "SUBSCRIPTION_NOT_EXIST";
    case RMQ_RESP_SUBSCRIPTION_NOT_LATEST:
        return "SUBSCRIPTION_NOT_LATEST";
    case RMQ_RESP_SUBSCRIPTION_GROUP_NOT_EXIST:
        return "SUBSCRIPTION_GROUP_NOT_EXIST";
    case 204:
        return "NO_BUYER_ID";
    case 205:
        return "NOT_IN_CURRENT_UNIT";
    case RMQ_RESP_CONSUMER_NOT_ONLINE:
        return "CONSUMER_NOT_ONLINE";
    case 207:
        return "CONSUME_MSG_TIMEOUT";
    case 208:
        return "NO_MESSAGE";
    default:
        return "?";
    }
}

void
rmq_clog_emit(const rmq_clog *log, int level, const char *msgid,
              const char *fmt, ...)
{
    char    line[1024];
    int     n;
    va_list ap;

    n = snprintf(line, sizeof(line), "%s: ", log->ident);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        n = 0;
    }
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (log->fn != NULL) {
        log->fn(level, line, log->arg);
        return;
    }
    rmq_log_emit(level, msgid, 0, "%s", line);
}

/*
 * err.c - names for enum rmq_err.  Pure functions, any process.
 */
#include "common/err.h"

static const char *const err_names[RMQ_ERR__COUNT] = {
    [RMQ_OK] = "success",
    [RMQ_ERR_SYS] = "system call failed",
    [RMQ_ERR_NOMEM] = "out of memory",
    [RMQ_ERR_INVAL] = "invalid argument",
    [RMQ_ERR_PROTO] = "malformed message",
    [RMQ_ERR_CORRUPT] = "corrupt data",
    [RMQ_ERR_TOOBIG] = "too big",
    [RMQ_ERR_FULL] = "no room",
    [RMQ_ERR_AGAIN] = "try again",
    [RMQ_ERR_NOTFOUND] = "not found",
    [RMQ_ERR_EXISTS] = "already exists",
    [RMQ_ERR_TIMEOUT] = "timed out",
    [RMQ_ERR_CLOSED] = "closed",
    [RMQ_ERR_VERSION] = "version mismatch",
    [RMQ_ERR_CONFIG] = "configuration error",
    [RMQ_ERR_RANGE] = "out of range",
    [RMQ_ERR_BUSY] = "busy",
    [RMQ_ERR_PERM] = "not permitted",
};

const char *
rmq_strerror(int err)
{
    if (err < 0 || err >= RMQ_ERR__COUNT) {
        return "unknown error";
    }
    return err_names[err];
}

/*
 * err.h - the error codes every rmq function returns.
 *
 * Functions return 0 on success or one of these positive codes, and pass
 * results through out-parameters.  rmq_strerror() names a code.  Used by
 * every process and by librmq; no shared state.
 */
#ifndef RMQ_ERR_H
#define RMQ_ERR_H

enum rmq_err {
    RMQ_OK = 0,
    RMQ_ERR_SYS,      /* a system call failed; errno was logged */
    RMQ_ERR_NOMEM,    /* out of memory */
    RMQ_ERR_INVAL,    /* invalid argument from our own caller */
    RMQ_ERR_PROTO,    /* malformed message from a peer or a file */
    RMQ_ERR_CORRUPT,  /* on-disk data failed a check (magic, CRC, size) */
    RMQ_ERR_TOOBIG,   /* over a configured or format limit */
    RMQ_ERR_FULL,     /* no room (ring, table, disk) */
    RMQ_ERR_AGAIN,    /* nothing now; try again later */
    RMQ_ERR_NOTFOUND, /* no such thing */
    RMQ_ERR_EXISTS,   /* already exists */
    RMQ_ERR_TIMEOUT,  /* a deadline passed */
    RMQ_ERR_CLOSED,   /* the peer or the object went away */
    RMQ_ERR_VERSION,  /* layout or protocol version mismatch */
    RMQ_ERR_CONFIG,   /* configuration error */
    RMQ_ERR_RANGE,    /* value out of range */
    RMQ_ERR_BUSY,     /* held by someone else */
    RMQ_ERR_PERM,     /* not permitted */
    RMQ_ERR__COUNT
};

const char *rmq_strerror(int err);

#endif

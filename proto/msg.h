/*
 * msg.h - the msgpack codec behind every message between rmq processes.
 *
 * A message is a msgpack array: [id, field1, field2, ...].  Nested structs
 * are arrays of their fields; repeated structs are arrays of those.  Each
 * message type is described once by an rmq_mdesc (catalog.c), and the
 * catalog defines one typed encode/decode pair per message on top of the
 * two generic functions here.
 *
 * Decoding validates everything: the id, the element count (extra trailing
 * fields from a newer sender are ignored; "new fields go at the end"),
 * each field's msgpack type and range, string and array limits.  Anything
 * unexpected is RMQ_ERR_PROTO, never a crash.  RMQ_MF_BIN fields point
 * into the input buffer and live only as long as it does.
 */
#ifndef RMQ_PROTO_MSG_H
#define RMQ_PROTO_MSG_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define RMQ_MSG_MAX_BYTES (64u * 1024 * 1024)

enum rmq_mf_type {
    RMQ_MF_U32,   /* uint32_t */
    RMQ_MF_I32,   /* int32_t */
    RMQ_MF_U64,   /* uint64_t */
    RMQ_MF_I64,   /* int64_t */
    RMQ_MF_BOOL,  /* bool */
    RMQ_MF_STR,   /* char[size], NUL-terminated; longer input is rejected */
    RMQ_MF_BIN,   /* rmq_bytes: pointer into the input + length (<= max) */
    RMQ_MF_ARRAY, /* elem[max] inline, element count in a uint32_t */
    RMQ_MF_U64S,  /* uint64_t[max] inline, count in a uint32_t */
};

typedef struct rmq_bytes {
    const uint8_t *ptr;
    uint32_t       len;
} rmq_bytes;

struct rmq_mdesc;

typedef struct rmq_mfield {
    const char             *name;
    uint8_t                 type;
    uint32_t                offset;
    uint32_t                size;      /* STR: buffer size; ARRAY: elem size */
    uint32_t                max;       /* BIN: bytes; ARRAY/U64S: elements */
    uint32_t                count_off; /* ARRAY/U64S: offset of the count */
    const struct rmq_mdesc *elem;      /* ARRAY: element layout */
} rmq_mfield;

typedef struct rmq_mdesc {
    uint16_t          id; /* 0 for nested element layouts */
    const char       *name;
    uint32_t          struct_size;
    uint16_t          nfields;
    const rmq_mfield *fields;
} rmq_mdesc;

/* Append the msgpack encoding of msg (layout d) to out. */
int rmq_msg_encode(const rmq_mdesc *d, const void *msg, rmq_buf *out);
/*
 * Decode data into msg (layout d, zeroed first).  Returns 0 or
 * RMQ_ERR_PROTO (malformed, wrong id, wrong type, over a limit) or
 * RMQ_ERR_TOOBIG (input over RMQ_MSG_MAX_BYTES).
 */
int rmq_msg_decode(const rmq_mdesc *d, const void *data, size_t len, void *msg);
/* Read just the id of an encoded message. */
int rmq_msg_peek_id(const void *data, size_t len, uint16_t *id);

#endif

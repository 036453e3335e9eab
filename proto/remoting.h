/*
 * remoting.h - the RocketMQ 4.x remoting codec (spec/remoting-protocol.md
 * section 1): frames, JSON and ROCKETMQ binary headers in, JSON headers out.
 * Used by the acceptor and namesrv actors, librmq and rmqctl.  Pure
 * functions plus caller-owned structs; no global state; never aborts on
 * input bytes.
 *
 * Frame: int32 frameLen (excludes itself) | int32 (serializeType << 24 |
 * headerLen) | header | body.  Frames over RMQ_FRAME_MAX are refused.
 *
 * Decoding never copies the body: rmq_rcmd.body points into the caller's
 * frame buffer, which must outlive the command.  Header strings (remark,
 * ext keys and values) are NUL-terminated copies held in the command's own
 * arena, so they stay valid until rmq_rcmd_reset/free.
 */
#ifndef RMQ_PROTO_REMOTING_H
#define RMQ_PROTO_REMOTING_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_FRAME_MAX (16u * 1024 * 1024) /* Java's frameMaxLength */
#define RMQ_RCMD_EXT_MAX 64               /* ext fields kept per command */
#define RMQ_SERIALIZE_JSON 0
#define RMQ_SERIALIZE_ROCKETMQ 1

#define RMQ_RFLAG_RESPONSE 0x1
#define RMQ_RFLAG_ONEWAY 0x2

/* LanguageCode ordinals (spec 1.1). */
enum rmq_language {
    RMQ_LANG_JAVA = 0,
    RMQ_LANG_CPP,
    RMQ_LANG_DOTNET,
    RMQ_LANG_PYTHON,
    RMQ_LANG_DELPHI,
    RMQ_LANG_ERLANG,
    RMQ_LANG_RUBY,
    RMQ_LANG_OTHER,
    RMQ_LANG_HTTP,
    RMQ_LANG_GO,
    RMQ_LANG_PHP,
    RMQ_LANG_OMS,
    RMQ_LANG_RUST,
    RMQ_LANG_NODE_JS,
    RMQ_LANG__COUNT
};

typedef struct rmq_ext {
    const char *key;   /* NUL-terminated, in the arena */
    const char *value; /* NUL-terminated, in the arena; never NULL */
    uint32_t    key_len;
    uint32_t    value_len;
} rmq_ext;

/* A decoded request or response. */
typedef struct rmq_rcmd {
    int32_t        code;
    int32_t        language; /* enum rmq_language; RMQ_LANG_OTHER if unknown */
    int32_t        version;
    int32_t        opaque;
    int32_t        flag;
    uint8_t        serialize_type; /* of the frame it came in */
    const char    *remark;         /* NULL when absent */
    uint32_t       next;           /* ext fields used */
    rmq_ext        ext[RMQ_RCMD_EXT_MAX];
    const uint8_t *body; /* into the frame; NULL when empty */
    uint32_t       body_len;
    rmq_buf        arena; /* owns the header strings */
} rmq_rcmd;

void rmq_rcmd_init(rmq_rcmd *c);
void rmq_rcmd_reset(rmq_rcmd *c); /* keep the arena's memory for reuse */
void rmq_rcmd_free(rmq_rcmd *c);

/*
 * Look at the start of a receive buffer.  Returns 0 and sets *frame_len
 * (bytes of the whole frame including the 4-byte length) when a complete
 * frame is there; RMQ_ERR_AGAIN when more bytes are needed;
 * RMQ_ERR_TOOBIG when the announced frame (4 + frameLen bytes, as Netty
 * counts it) exceeds max_frame, known as soon as 4 bytes are in;
 * RMQ_ERR_PROTO when the length word is impossible (< 4, or header length
 * larger than the frame).  Cheap: reads at most 8 bytes.
 */
int rmq_frame_peek(const uint8_t *buf, size_t len, size_t max_frame,
                   size_t *frame_len);

/*
 * Decode one complete frame (as delimited by rmq_frame_peek) into cmd
 * (which is reset first).  JSON headers follow the extFields rules of spec
 * 1.3: any JSON scalar value is accepted and kept as its text (numbers in
 * decimal, true/false, null = absent), \uXXXX escapes are decoded to
 * UTF-8.  Binary headers follow the ROCKETMQ layout.  Returns 0 or
 * RMQ_ERR_PROTO (with nothing left allocated beyond the arena).
 */
int rmq_rcmd_decode(const uint8_t *frame, size_t frame_len, rmq_rcmd *cmd);
/*
 * As rmq_rcmd_decode, but JSON headers always go through jansson instead of
 * the fast scanner.  For tests and fuzzers that check the two agree.
 */
int rmq_rcmd_decode_jansson(const uint8_t *frame, size_t frame_len,
                            rmq_rcmd *cmd);

/* ext field lookup; NULL when absent. */
const char *rmq_rcmd_ext(const rmq_rcmd *c, const char *key);
/*
 * Typed lookups with Java's parsing rules: 0 on success, RMQ_ERR_NOTFOUND
 * when absent, RMQ_ERR_INVAL when not a valid number (Java would fail the
 * request).  Booleans follow Boolean.parseBoolean (absent = false).
 */
int  rmq_rcmd_ext_i64(const rmq_rcmd *c, const char *key, int64_t *out);
int  rmq_rcmd_ext_i32(const rmq_rcmd *c, const char *key, int32_t *out);
bool rmq_rcmd_ext_bool(const rmq_rcmd *c, const char *key);

/* An outgoing command: what we send (always a JSON header). */
typedef struct rmq_rcmd_out {
    int32_t     code;
    int32_t     opaque;
    int32_t     flag;     /* RMQ_RFLAG_* */
    int32_t     version;  /* we send 410 (V4_9_8) unless told otherwise */
    int32_t     language; /* we send JAVA unless told otherwise */
    const char *remark;   /* NULL = omitted */
    uint32_t    next;
    rmq_ext     ext[RMQ_RCMD_EXT_MAX]; /* values are always JSON strings */
} rmq_rcmd_out;

void rmq_rcmd_out_init(rmq_rcmd_out *o, int32_t code, int32_t opaque,
                       int32_t flag);
/* Add an ext field; key and value must outlive the encode call. */
void rmq_rcmd_out_ext(rmq_rcmd_out *o, const char *key, const char *value);
/*
 * Append the frame prefix and JSON header of o to out, for a body of
 * body_len bytes the caller will send right after (from anywhere: a
 * mapping, an iovec).  JSON is compact; strings are escaped so that
 * U+0001/U+0002 and non-ASCII survive.  Returns 0, RMQ_ERR_TOOBIG when the
 * frame would exceed RMQ_FRAME_MAX, or RMQ_ERR_NOMEM.
 */
int rmq_rcmd_encode(const rmq_rcmd_out *o, uint32_t body_len, rmq_buf *out);

const char *rmq_language_name(int32_t lang);

#endif

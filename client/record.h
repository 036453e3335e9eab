/*
 * record.h - decoding commit-log records (spec/store-format.md 2.2), the
 * body of PULL_MESSAGE responses, into rmq_message_ext; and the encodings
 * librmq sends: properties text, zlib bodies, the batch body of
 * SEND_BATCH_MESSAGE (spec/remoting-protocol.md 6.3).  Pure functions.
 */
#ifndef RMQ_CLIENT_RECORD_H
#define RMQ_CLIENT_RECORD_H

#include "client/cmsg.h"
#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define RMQ_RECORD_MAGIC_V1 0xDAA320A7u
#define RMQ_RECORD_MAGIC_V2 0xDAA320ABu /* int16 topic length */
#define RMQ_BODY_INFLATE_MAX (64u * 1024 * 1024)

/*
 * Decode the record at p (len bytes available): v1 or v2 magic, IPv4 or
 * IPv6 hosts, zlib-compressed bodies inflated.  *used is set to the
 * record's totalSize whenever that size is sane, even when decoding the
 * rest fails (so a caller can skip the record).  Returns 0 or
 * RMQ_CLIENT_ERR_PROTO (framing or an unsupported compression) or
 * RMQ_CLIENT_ERR_NOMEM.
 */
int rmq_record_decode(const uint8_t *p, size_t len, size_t *used,
                      rmq_message_ext **out);

/*
 * Decode concatenated records.  Records that cannot be decoded but can be
 * skipped are counted in *skipped; decoding stops at the first framing
 * error (*skipped counts it too).  Returns 0 or RMQ_CLIENT_ERR_NOMEM; on
 * success *msgs (malloc'd, maybe NULL when *n is 0) holds *n messages.
 */
int rmq_records_decode(const uint8_t *p, size_t len, rmq_message_ext ***msgs,
                       size_t *n, size_t *skipped);

/* Free n messages and the array. */
void rmq_msgexts_free(rmq_message_ext **msgs, size_t n);

/* zlib (deflate stream) of len bytes at level 5, like Java's producer. */
int rmq_body_compress(const void *in, size_t len, rmq_buf *out);
/* Inflate a zlib stream of at most max bytes. */
int rmq_body_inflate(const void *in, size_t len, size_t max, rmq_buf *out);

/*
 * The properties text a message is sent with: its own properties, then
 * UNIQ_KEY (when uniq_key is not NULL) and WAIT=true.
 */
int rmq_record_props(const rmq_message *m, const char *uniq_key, rmq_buf *out);

/*
 * The SEND_BATCH_MESSAGE body: per message int32 totalSize, int32 magic
 * 0, int32 bodyCRC 0, int32 flag, int32 bodyLen, body, int16 propsLen,
 * props (rmq_record_props with uniq_keys[i]).  Returns 0,
 * RMQ_CLIENT_ERR_TOO_BIG (properties over 32767 bytes) or _NOMEM.
 */
int rmq_record_batch(const rmq_message *const *msgs, size_t n,
                     const char *const *uniq_keys, rmq_buf *out);

#endif

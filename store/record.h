/*
 * record.h - the commit-log record format (spec/store-format.md 2.2-2.5):
 * encode a message into a caller buffer, fix up the fields the writer
 * assigns at append time, decode and validate a record in place, the
 * end-of-file BLANK record, offset message ids and the consume-queue
 * tagsCode of a record.
 *
 * Used by the acceptor (encodes records into its put ring), clwriter
 * (validates and fixes them up while appending), the dispatcher, the
 * recovery code and every reader of the commit log.  Pure functions over
 * caller memory: no shared state, no allocation, no system calls.  The
 * decoder treats its input as untrusted (bytes from disk or from another
 * process) and never reads outside [p, p + avail).
 *
 * All integers are big-endian.  Field offsets below are for the fixed
 * part; from storeTimestamp on they shift by 12 bytes when bornHost is
 * IPv6 (sysFlag 0x10) and again when storeHost is IPv6 (0x20): use the
 * rmq_rec_off_* helpers.
 */
#ifndef RMQ_STORE_RECORD_H
#define RMQ_STORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_REC_MAGIC_V1 0xDAA320A7u    /* int8 topic length */
#define RMQ_REC_MAGIC_V2 0xDAA320ABu    /* int16 topic length (5.x) */
#define RMQ_REC_MAGIC_BLANK 0xCBD43194u /* end-of-file filler */
#define RMQ_REC_BLANK_LEN 8             /* totalSize + magic */

#define RMQ_REC_TOPIC_MAX_V1 127 /* int8 topic length */
#define RMQ_REC_PROPS_MAX 32767  /* int16 properties length */

/* sysFlag bits (spec 2.4). */
#define RMQ_SYSFLAG_COMPRESSED 0x1
#define RMQ_SYSFLAG_MULTI_TAGS 0x2
#define RMQ_SYSFLAG_TX_MASK 0xC
#define RMQ_SYSFLAG_TX_NONE 0x0
#define RMQ_SYSFLAG_TX_PREPARED 0x4
#define RMQ_SYSFLAG_TX_COMMIT 0x8
#define RMQ_SYSFLAG_TX_ROLLBACK 0xC
#define RMQ_SYSFLAG_BORN_V6 0x10
#define RMQ_SYSFLAG_STORE_V6 0x20
#define RMQ_SYSFLAG_NEED_UNWRAP 0x40
#define RMQ_SYSFLAG_INNER_BATCH 0x80
#define RMQ_SYSFLAG_COMPRESS_MASK 0x700

/* Fixed offsets (the same for every host family). */
#define RMQ_REC_OFF_TOTAL 0
#define RMQ_REC_OFF_MAGIC 4
#define RMQ_REC_OFF_BODY_CRC 8
#define RMQ_REC_OFF_QUEUE_ID 12
#define RMQ_REC_OFF_FLAG 16
#define RMQ_REC_OFF_QUEUE_OFF 20
#define RMQ_REC_OFF_PHYS_OFF 28
#define RMQ_REC_OFF_SYSFLAG 36
#define RMQ_REC_OFF_BORN_TS 40
#define RMQ_REC_OFF_BORN_HOST 48

/* Record size without body, topic and properties, IPv4 hosts, v1. */
#define RMQ_REC_FIXED_V4 91

#define RMQ_SCHEDULE_TOPIC "SCHEDULE_TOPIC_XXXX"

/* Bytes of a host field (ip + int32 port) for the given sysFlag. */
static inline uint32_t
rmq_rec_born_host_len(uint32_t sysflag)
{
    return (sysflag & RMQ_SYSFLAG_BORN_V6) ? 20 : 8;
}

static inline uint32_t
rmq_rec_store_host_len(uint32_t sysflag)
{
    return (sysflag & RMQ_SYSFLAG_STORE_V6) ? 20 : 8;
}

static inline uint32_t
rmq_rec_off_store_ts(uint32_t sysflag)
{
    return RMQ_REC_OFF_BORN_HOST + rmq_rec_born_host_len(sysflag);
}

static inline uint32_t
rmq_rec_off_store_host(uint32_t sysflag)
{
    return rmq_rec_off_store_ts(sysflag) + 8;
}

static inline uint32_t
rmq_rec_off_reconsume(uint32_t sysflag)
{
    return rmq_rec_off_store_host(sysflag) + rmq_rec_store_host_len(sysflag);
}

static inline uint32_t
rmq_rec_off_prepared(uint32_t sysflag)
{
    return rmq_rec_off_reconsume(sysflag) + 4;
}

/* Offset of the int32 bodyLength; everything before it is fixed-size. */
static inline uint32_t
rmq_rec_off_body_len(uint32_t sysflag)
{
    return rmq_rec_off_prepared(sysflag) + 8;
}

/* Only transaction types none and COMMIT go to consume queues. */
static inline bool
rmq_rec_is_dispatchable(uint32_t sysflag)
{
    uint32_t tx = sysflag & RMQ_SYSFLAG_TX_MASK;

    return tx == RMQ_SYSFLAG_TX_NONE || tx == RMQ_SYSFLAG_TX_COMMIT;
}

/*
 * A message to encode.  ip_len is 4 or 16; encode sets the sysFlag bits
 * 0x10 / 0x20 from the lengths (and clears them for IPv4), so the flags
 * always match the layout.  body_crc is stored as given: compute it with
 * rmq_body_crc(body, body_len) over the bytes as stored.
 */
typedef struct rmq_rec_msg {
    const char *topic;
    uint32_t    topic_len; /* 1..127 */
    int32_t     queue_id;
    int32_t     flag;
    uint32_t    sysflag;
    int64_t     born_ts;
    uint8_t     born_ip[16];
    uint8_t     born_ip_len;
    int32_t     born_port;
    uint8_t     store_ip[16];
    uint8_t     store_ip_len;
    int32_t     store_port;
    int32_t     reconsume_times;
    int64_t     prepared_tx_offset;
    const void *body;
    uint32_t    body_len;
    uint32_t    body_crc;
    const char *props;
    uint32_t    props_len; /* <= 32767 */
} rmq_rec_msg;

enum rmq_rec_kind {
    RMQ_REC_MSG = 1, /* a message record */
    RMQ_REC_BLANK,   /* end-of-file filler: total_size = maxBlank */
    RMQ_REC_END,     /* zero bytes: end of the written data */
};

/* A decoded record: pointers into the caller's bytes, not copies. */
typedef struct rmq_rec_view {
    uint32_t       kind; /* enum rmq_rec_kind */
    uint32_t       total_size;
    uint32_t       magic;
    uint32_t       body_crc;
    int32_t        queue_id;
    int32_t        flag;
    int64_t        queue_offset;
    int64_t        phys_offset;
    uint32_t       sysflag;
    int64_t        born_ts;
    const uint8_t *born_ip;
    uint8_t        born_ip_len;
    int32_t        born_port;
    int64_t        store_ts;
    const uint8_t *store_ip;
    uint8_t        store_ip_len;
    int32_t        store_port;
    int32_t        reconsume_times;
    int64_t        prepared_tx_offset;
    const uint8_t *body;
    uint32_t       body_len;
    const char    *topic;
    uint32_t       topic_len;
    const char    *props;
    uint32_t       props_len;
    const uint8_t *rec; /* first byte of the record */
} rmq_rec_view;

/*
 * Size of the encoded record.  Returns 0, RMQ_ERR_INVAL (ip length not
 * 4/16, empty topic, NULL pointers with non-zero lengths) or
 * RMQ_ERR_TOOBIG (topic > 127, properties > 32767, record > INT32_MAX).
 */
int rmq_rec_size(const rmq_rec_msg *m, uint32_t *size);
/*
 * Encode m into buf (cap bytes) with queueOffset, physicalOffset and
 * storeTimestamp 0.  Returns 0 and the length, the errors of
 * rmq_rec_size, or RMQ_ERR_FULL when cap is too small.
 */
int rmq_rec_encode(const rmq_rec_msg *m, void *buf, size_t cap, uint32_t *len);
/*
 * Write the append-time fields into an encoded record in place.  The
 * record must be valid (its sysFlag decides where storeTimestamp is).
 */
void rmq_rec_fixup(void *rec, int64_t queue_offset, int64_t phys_offset,
                   int64_t store_ts);
/*
 * Decode the record at p, with avail readable bytes (to the end of the
 * data or of the file).  Returns 0 and out->kind:
 *   RMQ_REC_MSG   every length checked, totalSize equal to the sum of its
 *                 parts and <= avail, body CRC checked when check_crc;
 *   RMQ_REC_BLANK totalSize (maxBlank) in [8, avail];
 *   RMQ_REC_END   the first 8 bytes are zero.
 * Returns RMQ_ERR_CORRUPT for anything else (fewer than 8 bytes, bad
 * magic, bad or truncated size, lengths that do not add up, CRC
 * mismatch).  Never reads past p + avail.
 */
int rmq_rec_decode(const void *p, size_t avail, bool check_crc,
                   rmq_rec_view *out);

/*
 * Find key in a properties string ("k\1v\2k\1v", trailing \2 allowed).
 * Returns true and the value (pointer into props) when present.
 */
bool rmq_rec_prop(const char *props, size_t len, const char *key,
                  const char **val, uint32_t *val_len);
/*
 * The consume-queue tagsCode of a message record (spec 3, 13): for
 * SCHEDULE_TOPIC_XXXX the delivery time, storeTimestamp + delay of the
 * level in the DELAY property (queueId + 1 when absent; clamped to the
 * last level; + 1000 ms when there are no levels, as Java does), else
 * the Java hashCode of the TAGS property, sign-extended; 0 without tags.
 * delay_ms[i] is the delay of level i + 1.
 */
int64_t rmq_rec_tags_code(const rmq_rec_view *v, const int64_t *delay_ms,
                          int levels);

/* Hex characters of an offset message id, plus NUL. */
#define RMQ_MSGID_V4_LEN 32
#define RMQ_MSGID_V6_LEN 56
#define RMQ_MSGID_CAP (RMQ_MSGID_V6_LEN + 1)

/*
 * Offset message id: uppercase hex of store ip (4 or 16 bytes), int32
 * port and int64 physical offset.  Returns 0 or RMQ_ERR_INVAL (ip_len).
 */
int rmq_rec_msgid(const uint8_t *ip, size_t ip_len, int32_t port,
                  int64_t phys_offset, char out[RMQ_MSGID_CAP]);
/*
 * Decode an offset message id (32 or 56 hex digits, either case).
 * Returns 0 or RMQ_ERR_INVAL.
 */
int rmq_rec_msgid_decode(const char *id, size_t len, uint8_t ip[16],
                         uint8_t *ip_len, int32_t *port, int64_t *offset);

#endif

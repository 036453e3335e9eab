/*
 * test_msg.c - suite proto.msg: the generic msgpack codec (proto/msg.c)
 * over every layout in rmq_msg_catalog (proto/catalog.c).
 *
 * Nothing here knows a particular message: messages are filled, compared
 * and mutated through their descriptors, so a message added to the
 * catalog is covered without touching this file.  Mutations work on the
 * msgpack object tree of a valid encoding: one node is replaced by a
 * wrong value, the tree is packed again with msgpack-c and handed to the
 * decoder, which must answer RMQ_ERR_PROTO (and never crash).
 */
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/msg.h"

#include "common/buf.h"
#include "common/err.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a generic fill chooses values. */
enum fill_variant {
    FILL_MAX,      /* scalars at their max, strings/arrays full */
    FILL_MIN_FULL, /* scalars at their min, empty strings, arrays full */
    FILL_EMPTY,    /* scalars at their min, arrays empty */
    FILL_MIXED,    /* seeded values and lengths */
    FILL__COUNT
};

static const char *const fill_names[] = {"max", "min-full", "empty", "mixed"};

/* BIN payloads must outlive the encode; freed by the teardown. */
static uint8_t *bin_pool[256];
static int      bin_used;

static void
msg_teardown(void)
{
    for (int i = 0; i < bin_used; i++) {
        free(bin_pool[i]);
    }
    bin_used = 0;
}

static uint8_t *
bin_alloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);

    ck_assert(p != NULL &&
              bin_used < (int)(sizeof(bin_pool) / sizeof(bin_pool[0])));
    bin_pool[bin_used++] = p;
    return p;
}

/* ---- generic fill and compare ------------------------------------------ */

static void fill_struct(const rmq_mdesc *d, char *base, int v, uint32_t seed);

static uint32_t
fill_len(int v, uint32_t seed, uint32_t max)
{
    switch (v) {
    case FILL_MAX:
    case FILL_MIN_FULL:
        return max;
    case FILL_EMPTY:
        return 0;
    default:
        return (seed * 2654435761u) % (max + 1);
    }
}

static void
fill_str(char *p, uint32_t size, int v, uint32_t seed)
{
    uint32_t n = v == FILL_MAX ? size - 1 : v == FILL_MIXED ? seed % size : 0;

    /* every non-NUL byte value, including invalid UTF-8 */
    for (uint32_t i = 0; i < n; i++) {
        p[i] = (char)(1 + (i + seed) % 255);
    }
    p[n] = '\0';
}

static void
fill_scalar(const rmq_mfield *f, void *p, int v, uint32_t seed)
{
    bool max = v == FILL_MAX;
    bool mixed = v == FILL_MIXED;

    switch (f->type) {
    case RMQ_MF_U32:
        *(uint32_t *)p = mixed ? seed * 2654435761u : max ? UINT32_MAX : 0;
        break;
    case RMQ_MF_I32:
        *(int32_t *)p = mixed ? (int32_t)(seed * 7919u) - 1000000
                        : max ? INT32_MAX
                              : INT32_MIN;
        break;
    case RMQ_MF_U64:
        *(uint64_t *)p = mixed ? seed * UINT64_C(0x9E3779B97F4A7C15)
                         : max ? UINT64_MAX
                               : 0;
        break;
    case RMQ_MF_I64:
        *(int64_t *)p = mixed ? -(int64_t)seed * 123456789
                        : max ? INT64_MAX
                              : INT64_MIN;
        break;
    case RMQ_MF_BOOL:
        *(bool *)p = mixed ? (seed & 1) : max;
        break;
    }
}

static void
fill_field(const rmq_mfield *f, char *base, int v, uint32_t seed)
{
    void    *p = base + f->offset;
    uint32_t n;

    switch (f->type) {
    case RMQ_MF_STR:
        fill_str(p, f->size, v, seed);
        break;
    case RMQ_MF_BIN: {
        rmq_bytes *b = p;
        uint8_t   *data;

        /* bytes fields allow up to the whole message size: a few hundred
         * bytes exercise the same length encodings */
        n = fill_len(v, seed, RMQ_MIN(f->max, 300u));
        data = bin_alloc(n);
        for (uint32_t i = 0; i < n; i++) {
            data[i] = (uint8_t)(i + seed);
        }
        b->ptr = data;
        b->len = n;
        break;
    }
    case RMQ_MF_ARRAY:
        n = fill_len(v, seed, f->max);
        *(uint32_t *)(base + f->count_off) = n;
        for (uint32_t i = 0; i < n; i++) {
            fill_struct(f->elem, (char *)p + (size_t)i * f->size, v,
                        seed * 31 + i + 1);
        }
        break;
    case RMQ_MF_U64S:
        n = fill_len(v, seed, f->max);
        *(uint32_t *)(base + f->count_off) = n;
        for (uint32_t i = 0; i < n; i++) {
            ((uint64_t *)p)[i] = v == FILL_MAX ? UINT64_MAX - i : seed + i;
        }
        break;
    default:
        fill_scalar(f, p, v, seed);
        break;
    }
}

static void
fill_struct(const rmq_mdesc *d, char *base, int v, uint32_t seed)
{
    for (uint16_t i = 0; i < d->nfields; i++) {
        fill_field(&d->fields[i], base, v, seed * 131 + i);
    }
}

static void *
fill_new(const rmq_mdesc *d, int v)
{
    void *msg = calloc(1, d->struct_size);

    ck_assert_ptr_nonnull(msg);
    fill_struct(d, msg, v, 7);
    return msg;
}

static void same_struct(const rmq_mdesc *d, const char *a, const char *b,
                        const char *where);

static void
same_field(const rmq_mfield *f, const char *a, const char *b, const char *where)
{
    const char *pa = a + f->offset;
    const char *pb = b + f->offset;
    uint32_t    n;

    switch (f->type) {
    case RMQ_MF_STR:
        ck_assert_msg(strcmp(pa, pb) == 0, "%s.%s differs", where, f->name);
        return;
    case RMQ_MF_BIN: {
        const rmq_bytes *x = (const rmq_bytes *)pa;
        const rmq_bytes *y = (const rmq_bytes *)pb;

        ck_assert_msg(x->len == y->len &&
                          (x->len == 0 || memcmp(x->ptr, y->ptr, x->len) == 0),
                      "%s.%s differs", where, f->name);
        return;
    }
    case RMQ_MF_ARRAY:
    case RMQ_MF_U64S:
        n = *(const uint32_t *)(a + f->count_off);
        ck_assert_msg(n == *(const uint32_t *)(b + f->count_off),
                      "%s.%s count differs", where, f->name);
        for (uint32_t i = 0; i < n; i++) {
            if (f->type == RMQ_MF_U64S) {
                ck_assert(((const uint64_t *)pa)[i] ==
                          ((const uint64_t *)pb)[i]);
            } else {
                same_struct(f->elem, pa + (size_t)i * f->size,
                            pb + (size_t)i * f->size, f->name);
            }
        }
        return;
    default:
        ck_assert_msg(memcmp(pa, pb, f->size) == 0, "%s.%s differs", where,
                      f->name);
    }
}

static void
same_struct(const rmq_mdesc *d, const char *a, const char *b, const char *where)
{
    for (uint16_t i = 0; i < d->nfields; i++) {
        same_field(&d->fields[i], a, b, where);
    }
}

/* Encode a filled message of layout d; caller frees buf. */
static void
encode_filled(const rmq_mdesc *d, int v, rmq_buf *buf, void **msg_out)
{
    void *msg = fill_new(d, v);

    rmq_buf_init(buf);
    ck_assert_int_eq(rmq_msg_encode(d, msg, buf), 0);
    ck_assert(buf->len > 0);
    if (msg_out != NULL) {
        *msg_out = msg;
    } else {
        free(msg);
    }
}

/* Decode exactly len bytes from a buffer of that size (ASan sees overreads). */
static int
decode_exact(const rmq_mdesc *d, const void *data, size_t len, void *msg)
{
    void *copy = malloc(len ? len : 1);
    int   rc;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, data, len);
    rc = rmq_msg_decode(d, copy, len, msg);
    free(copy);
    return rc;
}

/* ---- catalog ----------------------------------------------------------- */

START_TEST(test_msg_catalog_ids_are_unique_and_nonzero)
{
    ck_assert_uint_gt(rmq_msg_catalog_len, 0);
    for (unsigned i = 0; i < rmq_msg_catalog_len; i++) {
        ck_assert_uint_ne(rmq_msg_catalog[i]->id, 0);
        for (unsigned j = 0; j < i; j++) {
            ck_assert_uint_ne(rmq_msg_catalog[i]->id, rmq_msg_catalog[j]->id);
            ck_assert_str_ne(rmq_msg_catalog[i]->name,
                             rmq_msg_catalog[j]->name);
        }
    }
}
END_TEST

static void
check_layout(const rmq_mdesc *d)
{
    for (uint16_t i = 0; i < d->nfields; i++) {
        const rmq_mfield *f = &d->fields[i];
        size_t            span = f->size;

        if (f->type == RMQ_MF_ARRAY || f->type == RMQ_MF_U64S) {
            span = (size_t)f->size * f->max;
            ck_assert_uint_gt(f->max, 0);
            ck_assert_uint_le(f->count_off + 4u, d->struct_size);
        }
        ck_assert_msg(f->offset + span <= d->struct_size,
                      "%s.%s lies outside its struct", d->name, f->name);
        if (f->type == RMQ_MF_ARRAY) {
            ck_assert_ptr_nonnull(f->elem);
            ck_assert_uint_eq(f->elem->id, 0);
            ck_assert_uint_eq(f->elem->struct_size, f->size);
            check_layout(f->elem);
        }
    }
}

START_TEST(test_msg_catalog_layouts_fit_their_structs)
{
    for (unsigned i = 0; i < rmq_msg_catalog_len; i++) {
        check_layout(rmq_msg_catalog[i]);
    }
}
END_TEST

/* ---- round trip -------------------------------------------------------- */

/* Loop index: message * FILL__COUNT + variant. */
START_TEST(test_msg_every_message_round_trips)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i / FILL__COUNT];
    int              v = _i % FILL__COUNT;
    rmq_buf          enc, again;
    void            *msg;
    void            *back = calloc(1, d->struct_size);
    uint16_t         id;

    encode_filled(d, v, &enc, &msg);
    /* bytes fields of the decoded struct point into enc: keep it alive */
    ck_assert_msg(rmq_msg_decode(d, enc.data, enc.len, back) == 0,
                  "%s (%s) does not decode", d->name, fill_names[v]);
    same_struct(d, msg, back, d->name);
    /* decode then encode gives the same bytes */
    rmq_buf_init(&again);
    ck_assert_int_eq(rmq_msg_encode(d, back, &again), 0);
    ck_assert_uint_eq(again.len, enc.len);
    ck_assert_mem_eq(again.data, enc.data, enc.len);
    ck_assert_int_eq(rmq_msg_peek_id(enc.data, enc.len, &id), 0);
    ck_assert_uint_eq(id, d->id);
    rmq_buf_free(&enc);
    rmq_buf_free(&again);
    free(msg);
    free(back);
}
END_TEST

START_TEST(test_msg_typed_pair_round_trips_a_request)
{
    rmq_msg_ctl_request req = {.cmd = RMQ_CTL_CMD_RESTART};
    rmq_msg_ctl_request back;
    rmq_buf             b;

    strcpy(req.arg, "testactor");
    rmq_buf_init(&b);
    ck_assert_int_eq(rmq_msg_ctl_request_encode(&req, &b), 0);
    ck_assert_int_eq(rmq_msg_ctl_request_decode(b.data, b.len, &back), 0);
    ck_assert_uint_eq(back.cmd, RMQ_CTL_CMD_RESTART);
    ck_assert_str_eq(back.arg, "testactor");
    rmq_buf_free(&b);
}
END_TEST

START_TEST(test_msg_encoder_clamps_array_count_to_its_max)
{
    rmq_msg_ctl_actors *m = calloc(1, sizeof(*m));
    rmq_msg_ctl_actors *back = calloc(1, sizeof(*back));
    rmq_buf             b;

    m->n = RMQ_ACTOR_MAX + 5;
    rmq_buf_init(&b);
    ck_assert_int_eq(rmq_msg_ctl_actors_encode(m, &b), 0);
    ck_assert_int_eq(rmq_msg_ctl_actors_decode(b.data, b.len, back), 0);
    ck_assert_uint_eq(back->n, RMQ_ACTOR_MAX);
    rmq_buf_free(&b);
    free(m);
    free(back);
}
END_TEST

/* ---- truncation, size, framing ----------------------------------------- */

START_TEST(test_msg_every_truncation_is_rejected)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i / FILL__COUNT];
    rmq_buf          enc;
    void            *back = calloc(1, d->struct_size);

    encode_filled(d, _i % FILL__COUNT, &enc, NULL);
    /* every cut in the first 4 KiB, then a few thousand spread over the rest */
    for (size_t len = 0; len < enc.len;
         len += len < 4096 ? 1 : RMQ_MAX(enc.len / 4096, 1)) {
        int rc = decode_exact(d, enc.data, len, back);

        ck_assert_msg(rc == RMQ_ERR_PROTO, "%s cut to %zu of %zu bytes: rc %d",
                      d->name, len, enc.len, rc);
    }
    rmq_buf_free(&enc);
    free(back);
}
END_TEST

START_TEST(test_msg_trailing_bytes_after_the_message_are_rejected)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i];
    rmq_buf          enc;
    void            *back = calloc(1, d->struct_size);

    encode_filled(d, FILL_MIXED, &enc, NULL);
    rmq_buf_u8(&enc, 0xc0); /* a msgpack nil after the array */
    ck_assert_int_eq(decode_exact(d, enc.data, enc.len, back), RMQ_ERR_PROTO);
    rmq_buf_free(&enc);
    free(back);
}
END_TEST

START_TEST(test_msg_input_over_the_size_limit_is_toobig)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i];
    size_t           n = (size_t)RMQ_MSG_MAX_BYTES + 1;
    uint8_t         *big = calloc(1, n);
    void            *back = calloc(1, d->struct_size);
    rmq_buf          enc;

    ck_assert_ptr_nonnull(big);
    encode_filled(d, FILL_MIXED, &enc, NULL);
    memcpy(big, enc.data, enc.len);
    ck_assert_int_eq(rmq_msg_decode(d, big, n, back), RMQ_ERR_TOOBIG);
    /* exactly at the limit it is parsed (and here rejected as padded) */
    ck_assert_int_eq(rmq_msg_decode(d, big, n - 1, back), RMQ_ERR_PROTO);
    rmq_buf_free(&enc);
    free(big);
    free(back);
}
END_TEST

START_TEST(test_msg_decoding_with_another_layout_is_rejected)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i];
    rmq_buf          enc;

    encode_filled(d, FILL_MAX, &enc, NULL);
    for (unsigned j = 0; j < rmq_msg_catalog_len; j++) {
        const rmq_mdesc *other = rmq_msg_catalog[j];
        void            *back = calloc(1, other->struct_size);

        if (other != d) {
            ck_assert_msg(decode_exact(other, enc.data, enc.len, back) ==
                              RMQ_ERR_PROTO,
                          "%s decoded as %s", d->name, other->name);
        }
        free(back);
    }
    rmq_buf_free(&enc);
}
END_TEST

/*
 * msgpack-c allocates what an array header claims before it reads the
 * elements: array32 with 2^32-1 elements asks for ~128 GiB.  glibc and
 * jemalloc return NULL (msgpack-c then fails and the decoder says PROTO);
 * ASan would abort instead, so this binary lets it return NULL too.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* Hostile headers: huge claimed lengths, reserved bytes, deep nesting. */
START_TEST(test_msg_hostile_headers_are_rejected_without_crashing)
{
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t nested_arr32[] = {0x92, 0x01, 0xdd, 0xff,
                                           0xff, 0xff, 0xff};
    static const uint8_t str32[] = {0x92, 0x01, 0xdb, 0xff,
                                    0xff, 0xff, 0xff, 'a'};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t reserved[] = {0x92, 0x01, 0xc1};
    static const struct {
        const uint8_t *p;
        size_t         n;
    } cases[] = {{arr32, sizeof(arr32)},
                 {nested_arr32, sizeof(nested_arr32)},
                 {str32, sizeof(str32)},
                 {map32, sizeof(map32)},
                 {reserved, sizeof(reserved)}};
    uint8_t deep[200];

    for (unsigned m = 0; m < rmq_msg_catalog_len; m++) {
        const rmq_mdesc *d = rmq_msg_catalog[m];
        void            *back = calloc(1, d->struct_size);

        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            ck_assert_int_eq(decode_exact(d, cases[c].p, cases[c].n, back),
                             RMQ_ERR_PROTO);
        }
        memset(deep, 0x91, sizeof(deep) - 1); /* [[[[...1...]]]] */
        deep[sizeof(deep) - 1] = 0x01;
        ck_assert_int_eq(decode_exact(d, deep, sizeof(deep), back),
                         RMQ_ERR_PROTO);
        free(back);
    }
}
END_TEST

/* ---- peek -------------------------------------------------------------- */

START_TEST(test_msg_peek_id_reads_every_header_form)
{
    static const uint8_t fix[] = {0x92, 0x05, 0x00};
    static const uint8_t u8[] = {0x92, 0xcc, 0xc8, 0x00};
    static const uint8_t a16[] = {0xdc, 0x00, 0x02, 0xcd, 0x12, 0x34, 0x00};
    static const uint8_t a32[] = {0xdd, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00};
    uint16_t             id;

    ck_assert_int_eq(rmq_msg_peek_id(fix, sizeof(fix), &id), 0);
    ck_assert_uint_eq(id, 5);
    ck_assert_int_eq(rmq_msg_peek_id(u8, sizeof(u8), &id), 0);
    ck_assert_uint_eq(id, 200);
    ck_assert_int_eq(rmq_msg_peek_id(a16, sizeof(a16), &id), 0);
    ck_assert_uint_eq(id, 0x1234);
    ck_assert_int_eq(rmq_msg_peek_id(a32, sizeof(a32), &id), 0);
    ck_assert_uint_eq(id, 7);
}
END_TEST

START_TEST(test_msg_peek_id_rejects_short_or_foreign_input)
{
    static const uint8_t map[] = {0x81, 0x01, 0x02};
    static const uint8_t neg[] = {0x92, 0xff, 0x00};
    static const uint8_t u32[] = {0x92, 0xce, 0, 0, 0, 1};
    static const uint8_t cut16[] = {0x92, 0xcd, 0x12};
    static const uint8_t cut_hdr[] = {0xdc, 0x00};
    uint16_t             id;

    ck_assert_int_eq(rmq_msg_peek_id(map, 0, &id), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_msg_peek_id(map, 1, &id), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_msg_peek_id(map, sizeof(map), &id), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_msg_peek_id(neg, sizeof(neg), &id), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_msg_peek_id(u32, sizeof(u32), &id), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_msg_peek_id(cut16, sizeof(cut16), &id), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_msg_peek_id(cut_hdr, sizeof(cut_hdr), &id),
                     RMQ_ERR_PROTO);
}
END_TEST

/* ---- mutations of the object tree -------------------------------------- */

struct mut {
    const rmq_mdesc *top;
    msgpack_object  *root;
    void            *orig; /* the filled message the tree encodes */
    int              tried;
};

static msgpack_object
o_nil(void)
{
    msgpack_object o;

    memset(&o, 0, sizeof(o));
    o.type = MSGPACK_OBJECT_NIL;
    return o;
}

static msgpack_object
o_bool(bool b)
{
    msgpack_object o = o_nil();

    o.type = MSGPACK_OBJECT_BOOLEAN;
    o.via.boolean = b;
    return o;
}

static msgpack_object
o_uint(uint64_t v)
{
    msgpack_object o = o_nil();

    o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o.via.u64 = v;
    return o;
}

static msgpack_object
o_int(int64_t v)
{
    msgpack_object o = o_nil();

    if (v >= 0) {
        return o_uint((uint64_t)v);
    }
    o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o.via.i64 = v;
    return o;
}

static msgpack_object
o_float(double v)
{
    msgpack_object o = o_nil();

    o.type = MSGPACK_OBJECT_FLOAT64;
    o.via.f64 = v;
    return o;
}

static msgpack_object
o_str(const char *p, uint32_t n)
{
    msgpack_object o = o_nil();

    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = p;
    o.via.str.size = n;
    return o;
}

static msgpack_object
o_bin(const char *p, uint32_t n)
{
    msgpack_object o = o_nil();

    o.type = MSGPACK_OBJECT_BIN;
    o.via.bin.ptr = p;
    o.via.bin.size = n;
    return o;
}

static msgpack_object
o_array(msgpack_object *elems, uint32_t n)
{
    msgpack_object o = o_nil();

    o.type = MSGPACK_OBJECT_ARRAY;
    o.via.array.ptr = elems;
    o.via.array.size = n;
    return o;
}

static msgpack_object
o_empty_map(void)
{
    msgpack_object o = o_nil();

    o.type = MSGPACK_OBJECT_MAP;
    return o;
}

/* Pack the (mutated) tree and decode it as m->top; decoded copy in out. */
static int
mut_decode(struct mut *m, void *out)
{
    msgpack_sbuffer sb;
    msgpack_packer  pk;
    int             rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(msgpack_pack_object(&pk, *m->root), 0);
    rc = decode_exact(m->top, sb.data, sb.size, out);
    msgpack_sbuffer_destroy(&sb);
    m->tried++;
    return rc;
}

/* Put bad in *slot, expect RMQ_ERR_PROTO, restore. */
static void
mut_reject(struct mut *m, msgpack_object *slot, msgpack_object bad,
           const char *field, const char *what)
{
    msgpack_object save = *slot;
    void          *out = calloc(1, m->top->struct_size);
    int            rc;

    *slot = bad;
    rc = mut_decode(m, out);
    *slot = save;
    ck_assert_msg(rc == RMQ_ERR_PROTO, "%s: %s with %s: rc %d, want PROTO",
                  m->top->name, field, what, rc);
    free(out);
}

/* Values of the wrong kind for any field; then kind-specific ones. */
static void
mut_common(struct mut *m, msgpack_object *slot, const char *field)
{
    mut_reject(m, slot, o_nil(), field, "nil");
    mut_reject(m, slot, o_float(1.5), field, "a float");
    mut_reject(m, slot, o_empty_map(), field, "a map");
}

static void
mut_int_field(struct mut *m, const rmq_mfield *f, msgpack_object *slot)
{
    const char *n = f->name;

    mut_reject(m, slot, o_bool(true), n, "a bool");
    mut_reject(m, slot, o_str("1", 1), n, "a string");
    mut_reject(m, slot, o_bin("1", 1), n, "a bin");
    mut_reject(m, slot, o_array(NULL, 0), n, "an array");
    switch (f->type) {
    case RMQ_MF_U32:
        mut_reject(m, slot, o_int(-1), n, "-1");
        mut_reject(m, slot, o_uint(UINT64_C(1) << 32), n, "2^32");
        break;
    case RMQ_MF_I32:
        mut_reject(m, slot, o_uint(UINT64_C(1) << 31), n, "2^31");
        mut_reject(m, slot, o_int(INT64_C(-2147483649)), n, "-2^31-1");
        break;
    case RMQ_MF_U64:
        mut_reject(m, slot, o_int(-1), n, "-1");
        mut_reject(m, slot, o_int(INT64_MIN), n, "INT64_MIN");
        break;
    case RMQ_MF_I64:
        mut_reject(m, slot, o_uint(UINT64_C(1) << 63), n, "2^63");
        mut_reject(m, slot, o_uint(UINT64_MAX), n, "UINT64_MAX");
        break;
    }
}

static void
mut_bool_field(struct mut *m, const rmq_mfield *f, msgpack_object *slot)
{
    mut_reject(m, slot, o_uint(0), f->name, "0");
    mut_reject(m, slot, o_uint(1), f->name, "1");
    mut_reject(m, slot, o_str("true", 4), f->name, "\"true\"");
    mut_reject(m, slot, o_array(NULL, 0), f->name, "an array");
}

static void
mut_str_field(struct mut *m, const rmq_mfield *f, msgpack_object *slot)
{
    char *longer = malloc(f->size);

    memset(longer, 'x', f->size);
    mut_reject(m, slot, o_uint(1), f->name, "an int");
    mut_reject(m, slot, o_bin("abc", 3), f->name, "a bin");
    mut_reject(m, slot, o_str(longer, f->size), f->name,
               "a string as long as its buffer");
    mut_reject(m, slot, o_str("a\0b", 3), f->name, "an embedded NUL");
    mut_reject(m, slot, o_array(NULL, 0), f->name, "an array");
    free(longer);
}

static void
mut_bin_field(struct mut *m, const rmq_mfield *f, msgpack_object *slot)
{
    mut_reject(m, slot, o_uint(1), f->name, "an int");
    mut_reject(m, slot, o_str("abc", 3), f->name, "a string");
    /* a field limited only by the message size is covered by TOOBIG */
    if (f->max < RMQ_MSG_MAX_BYTES) {
        char *longer = calloc(1, (size_t)f->max + 1);
        mut_reject(m, slot, o_bin(longer, f->max + 1), f->name, "max+1 bytes");
        free(longer);
    }
}

static void mut_struct(struct mut *m, const rmq_mdesc *d, msgpack_object *arr,
                       uint32_t skip);

/* An array field: wrong kinds, too many elements, bad elements, recurse. */
static void
mut_array_field(struct mut *m, const rmq_mfield *f, msgpack_object *slot)
{
    msgpack_object *more;
    msgpack_object *first;
    msgpack_object  save;

    mut_reject(m, slot, o_uint(1), f->name, "an int");
    mut_reject(m, slot, o_str("x", 1), f->name, "a string");
    if (slot->type != MSGPACK_OBJECT_ARRAY || slot->via.array.size == 0) {
        return; /* the full variants cover the rest */
    }
    first = &slot->via.array.ptr[0];
    more = calloc((size_t)f->max + 1, sizeof(*more));
    for (uint32_t i = 0; i <= f->max; i++) {
        more[i] = *first;
    }
    mut_reject(m, slot, o_array(more, f->max + 1), f->name, "max+1 elements");
    free(more);
    if (f->type == RMQ_MF_U64S) {
        mut_reject(m, first, o_int(-1), f->name, "a -1 element");
        mut_reject(m, first, o_str("1", 1), f->name, "a string element");
        return;
    }
    mut_reject(m, first, o_uint(5), f->name, "an int element");
    mut_reject(m, first, o_empty_map(), f->name, "a map element");
    save = *first;
    mut_struct(m, f->elem, first, 0);
    *first = save;
}

static void
mut_field(struct mut *m, const rmq_mfield *f, msgpack_object *slot)
{
    mut_common(m, slot, f->name);
    switch (f->type) {
    case RMQ_MF_STR:
        mut_str_field(m, f, slot);
        break;
    case RMQ_MF_BIN:
        mut_bin_field(m, f, slot);
        break;
    case RMQ_MF_ARRAY:
    case RMQ_MF_U64S:
        mut_array_field(m, f, slot);
        break;
    case RMQ_MF_BOOL:
        mut_bool_field(m, f, slot);
        break;
    default:
        mut_int_field(m, f, slot);
        break;
    }
}

/* Every field of the struct in arr (fields start at index skip). */
static void
mut_struct(struct mut *m, const rmq_mdesc *d, msgpack_object *arr,
           uint32_t skip)
{
    uint32_t size = arr->via.array.size;

    for (uint16_t i = 0; i < d->nfields; i++) {
        mut_field(m, &d->fields[i], &arr->via.array.ptr[i + skip]);
    }
    /* a missing field (an older or broken sender) is rejected */
    for (uint32_t k = 0; k < d->nfields + skip; k++) {
        void *out = calloc(1, m->top->struct_size);

        arr->via.array.size = k;
        ck_assert_msg(mut_decode(m, out) == RMQ_ERR_PROTO,
                      "%s: %s with only %u elements accepted", m->top->name,
                      d->name, k);
        free(out);
    }
    arr->via.array.size = size;
}

/* Unpack a valid encoding of d into a tree the test may mutate. */
static void
mut_init(struct mut *m, const rmq_mdesc *d, int v, rmq_buf *enc,
         msgpack_unpacked *up)
{
    size_t off = 0;

    memset(m, 0, sizeof(*m));
    m->top = d;
    encode_filled(d, v, enc, &m->orig);
    msgpack_unpacked_init(up);
    ck_assert_int_eq(
        msgpack_unpack_next(up, (const char *)enc->data, enc->len, &off),
        MSGPACK_UNPACK_SUCCESS);
    m->root = &up->data;
}

static void
mut_fini(struct mut *m, rmq_buf *enc, msgpack_unpacked *up)
{
    msgpack_unpacked_destroy(up);
    rmq_buf_free(enc);
    free(m->orig);
}

/* Loop index: message * 2 + (0: max values, 1: min values). */
START_TEST(test_msg_wrong_typed_or_oversized_fields_are_rejected)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i / 2];
    struct mut       m;
    rmq_buf          enc;
    msgpack_unpacked up;

    mut_init(&m, d, _i % 2 ? FILL_MIN_FULL : FILL_MAX, &enc, &up);
    mut_struct(&m, d, m.root, 1);
    ck_assert_int_gt(m.tried, d->nfields * 5);
    mut_fini(&m, &enc, &up);
}
END_TEST

START_TEST(test_msg_wrong_id_is_rejected)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i];
    struct mut       m;
    rmq_buf          enc;
    msgpack_unpacked up;
    msgpack_object  *id;

    mut_init(&m, d, FILL_MIXED, &enc, &up);
    id = &m.root->via.array.ptr[0];
    mut_reject(&m, id, o_uint(0), "id", "0");
    mut_reject(&m, id, o_uint(d->id + 1u), "id", "id+1");
    mut_reject(&m, id, o_uint(65535), "id", "65535");
    mut_reject(&m, id, o_uint(65536u + d->id), "id", "id+65536");
    mut_reject(&m, id, o_int(-(int64_t)d->id), "id", "-id");
    mut_reject(&m, id, o_str("1", 1), "id", "a string");
    mut_reject(&m, id, o_nil(), "id", "nil");
    for (unsigned j = 0; j < rmq_msg_catalog_len; j++) {
        if (rmq_msg_catalog[j]->id != d->id) {
            mut_reject(&m, id, o_uint(rmq_msg_catalog[j]->id), "id",
                       rmq_msg_catalog[j]->name);
        }
    }
    mut_fini(&m, &enc, &up);
}
END_TEST

START_TEST(test_msg_top_level_that_is_not_an_array_is_rejected)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i];
    struct mut       m;
    rmq_buf          enc;
    msgpack_unpacked up;
    msgpack_object   just_id;

    mut_init(&m, d, FILL_MIXED, &enc, &up);
    just_id = o_uint(d->id);
    mut_reject(&m, m.root, o_nil(), "message", "nil");
    mut_reject(&m, m.root, o_uint(d->id), "message", "a bare id");
    mut_reject(&m, m.root, o_str("x", 1), "message", "a string");
    mut_reject(&m, m.root, o_empty_map(), "message", "a map");
    mut_reject(&m, m.root, o_array(NULL, 0), "message", "[]");
    mut_reject(&m, m.root, o_array(&just_id, 1), "message", "[id]");
    mut_fini(&m, &enc, &up);
}
END_TEST

/* Append extras to the array in *arr, decode, expect success + same. */
static void
mut_accept_extra(struct mut *m, msgpack_object *arr, const char *where)
{
    uint32_t        n = arr->via.array.size;
    msgpack_object *save = arr->via.array.ptr;
    msgpack_object *more = calloc(n + 3, sizeof(*more));
    void           *out = calloc(1, m->top->struct_size);
    msgpack_sbuffer sb;
    msgpack_packer  pk;
    int             rc;

    memcpy(more, save, n * sizeof(*more));
    more[n] = o_uint(42);
    more[n + 1] = o_str("from a newer sender", 19);
    more[n + 2] = o_array(NULL, 0);
    arr->via.array.ptr = more;
    arr->via.array.size = n + 3;
    /* decode from a buffer that outlives the comparison: bytes fields of
     * the decoded struct point into it */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(msgpack_pack_object(&pk, *m->root), 0);
    rc = rmq_msg_decode(m->top, sb.data, sb.size, out);
    m->tried++;
    arr->via.array.ptr = save;
    arr->via.array.size = n;
    ck_assert_msg(rc == 0, "%s: extra fields in %s rejected (rc %d)",
                  m->top->name, where, rc);
    same_struct(m->top, m->orig, out, m->top->name);
    msgpack_sbuffer_destroy(&sb);
    free(more);
    free(out);
}

START_TEST(test_msg_extra_trailing_fields_are_accepted)
{
    const rmq_mdesc *d = rmq_msg_catalog[_i];
    struct mut       m;
    rmq_buf          enc;
    msgpack_unpacked up;

    mut_init(&m, d, FILL_MAX, &enc, &up);
    mut_accept_extra(&m, m.root, "the message");
    /* and in the first element of every array of structs */
    for (uint16_t i = 0; i < d->nfields; i++) {
        msgpack_object *f = &m.root->via.array.ptr[i + 1];

        if (d->fields[i].type == RMQ_MF_ARRAY && f->via.array.size > 0) {
            mut_accept_extra(&m, &f->via.array.ptr[0], d->fields[i].name);
        }
    }
    mut_fini(&m, &enc, &up);
}
END_TEST

static Suite *
msg_suite(void)
{
    Suite *s = suite_create("proto.msg");
    TCase *tc;
    int    nmsg = (int)rmq_msg_catalog_len;

    tc = tcase_create("catalog");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_msg_catalog_ids_are_unique_and_nonzero);
    tcase_add_test(tc, test_msg_catalog_layouts_fit_their_structs);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_add_checked_fixture(tc, NULL, msg_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_loop_test(tc, test_msg_every_message_round_trips, 0,
                        nmsg * FILL__COUNT);
    tcase_add_test(tc, test_msg_typed_pair_round_trips_a_request);
    tcase_add_test(tc, test_msg_encoder_clamps_array_count_to_its_max);
    tcase_add_loop_test(tc, test_msg_extra_trailing_fields_are_accepted, 0,
                        nmsg);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, NULL, msg_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_msg_every_truncation_is_rejected, 0,
                        nmsg * FILL__COUNT);
    tcase_add_loop_test(
        tc, test_msg_trailing_bytes_after_the_message_are_rejected, 0, nmsg);
    tcase_add_loop_test(tc, test_msg_input_over_the_size_limit_is_toobig, 0,
                        nmsg);
    tcase_add_loop_test(tc, test_msg_decoding_with_another_layout_is_rejected,
                        0, nmsg);
    tcase_add_loop_test(
        tc, test_msg_wrong_typed_or_oversized_fields_are_rejected, 0, nmsg * 2);
    tcase_add_loop_test(tc, test_msg_wrong_id_is_rejected, 0, nmsg);
    tcase_add_loop_test(tc, test_msg_top_level_that_is_not_an_array_is_rejected,
                        0, nmsg);
    tcase_add_test(tc, test_msg_hostile_headers_are_rejected_without_crashing);
    suite_add_tcase(s, tc);

    tc = tcase_create("peek");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_msg_peek_id_reads_every_header_form);
    tcase_add_test(tc, test_msg_peek_id_rejects_short_or_foreign_input);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(msg_suite());
}

/*
 * fuzz_props.c - libFuzzer harness for message properties
 * (proto/props.h).  Built only with -DRMQ_FUZZ=ON; runs as a stand-alone
 * fuzzer process, touches no shared data.
 *
 * Parses the input as a properties string and checks what Java's parser
 * guarantees: non-empty keys without separators, non-empty values without
 * U+0002, no duplicate keys.  Then writes the list out, parses that back
 * (same entries, same order), and edits it with setn/del.  Any violation
 * aborts.
 */
#include "proto/props.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static bool
fz_entry_eq(const rmq_prop *a, const rmq_prop *b)
{
    return a->key_len == b->key_len && a->value_len == b->value_len &&
           memcmp(a->key, b->key, a->key_len) == 0 &&
           memcmp(a->value, b->value, a->value_len) == 0;
}

static void
fz_check_entries(const rmq_props *p)
{
    fz_check(p->n <= RMQ_PROPS_MAX);
    for (uint32_t i = 0; i < p->n; i++) {
        const rmq_prop *e = &p->p[i];

        fz_check(e->key_len > 0 && e->value_len > 0);
        fz_check(memchr(e->key, RMQ_PROP_SEP_KV, e->key_len) == NULL);
        fz_check(memchr(e->key, RMQ_PROP_SEP_ITEM, e->key_len) == NULL);
        fz_check(memchr(e->value, RMQ_PROP_SEP_ITEM, e->value_len) == NULL);
        for (uint32_t j = 0; j < i; j++) {
            fz_check(p->p[j].key_len != e->key_len ||
                     memcmp(p->p[j].key, e->key, e->key_len) != 0);
        }
    }
}

static void
fz_round_trip(const rmq_props *p, rmq_buf *out)
{
    static rmq_props back;

    rmq_buf_reset(out);
    rmq_props_write(p, out);
    fz_check(!out->oom);
    fz_check(rmq_props_parse((const char *)out->data, out->len, &back) == 0);
    fz_check(back.n == p->n);
    for (uint32_t i = 0; i < p->n; i++) {
        fz_check(fz_entry_eq(&p->p[i], &back.p[i]));
    }
}

/* Move the first entry to the end through del + setn. */
static void
fz_edit(rmq_props *p)
{
    rmq_prop first = p->p[0];
    char    *key = malloc(first.key_len + 1);

    fz_check(key != NULL);
    memcpy(key, first.key, first.key_len);
    key[first.key_len] = '\0';
    /* a key holding NUL cannot be named by rmq_props_del */
    if (strlen(key) == first.key_len) {
        rmq_props_del(p, key);
        fz_check(rmq_props_setn(p, first.key, first.key_len, first.value,
                                first.value_len) == 0);
        fz_check(fz_entry_eq(&p->p[p->n - 1], &first));
        fz_check_entries(p);
    }
    free(key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rmq_props props;
    static rmq_buf   out;
    int              rc;

    rc = rmq_props_parse((const char *)data, size, &props);
    if (rc != 0) {
        fz_check(rc == RMQ_ERR_TOOBIG);
        return 0;
    }
    fz_check_entries(&props);
    fz_round_trip(&props, &out);
    if (props.n > 0) {
        fz_edit(&props);
        fz_round_trip(&props, &out);
    }
    return 0;
}

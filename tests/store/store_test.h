/*
 * store_test.h - helpers shared by the store.* Check suites: a private
 * temporary directory per test, and a record builder.  Header-only so
 * each test binary stays one file plus this.
 */
#ifndef RMQ_TESTS_STORE_TEST_H
#define RMQ_TESTS_STORE_TEST_H

#include "common/util.h"
#include "store/record.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char st_dir[256];

static inline int
st_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Checked fixture: a fresh directory under /tmp for each test. */
static inline void
st_setup(void)
{
    snprintf(st_dir, sizeof(st_dir), "/tmp/rmq-store-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(st_dir));
}

static inline void
st_teardown(void)
{
    nftw(st_dir, st_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* "<st_dir>/<rel>" into a static buffer (one at a time). */
static inline const char *
st_path(const char *rel)
{
    static char p[512];

    snprintf(p, sizeof(p), "%s/%s", st_dir, rel);
    return p;
}

/* Bytes of a body that depend on seed, to check read-back. */
static inline void
st_fill_body(uint8_t *b, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++) {
        b[i] = (uint8_t)(seed * 31u + i * 7u);
    }
}

/*
 * Encode a record for topic/qid with a body_len-byte body derived from
 * seed and a TAGS property.  Returns its length.
 */
static inline uint32_t
st_make_rec(uint8_t *buf, size_t cap, const char *topic, int32_t qid,
            uint32_t body_len, uint32_t seed)
{
    static uint8_t       body[70000];
    rmq_rec_msg          m;
    uint32_t             len;
    static const uint8_t ip[4] = {127, 0, 0, 1};

    ck_assert_uint_le(body_len, sizeof(body));
    st_fill_body(body, body_len, seed);
    memset(&m, 0, sizeof(m));
    m.topic = topic;
    m.topic_len = (uint32_t)strlen(topic);
    m.queue_id = qid;
    m.born_ts = 1700000000000LL + seed;
    memcpy(m.born_ip, ip, 4);
    m.born_ip_len = 4;
    m.born_port = 40000;
    memcpy(m.store_ip, ip, 4);
    m.store_ip_len = 4;
    m.store_port = 10911;
    m.body = body;
    m.body_len = body_len;
    m.body_crc = rmq_body_crc(body, body_len);
    m.props = "TAGS\x01t";
    m.props_len = 6;
    ck_assert_int_eq(rmq_rec_encode(&m, buf, cap, &len), 0);
    return len;
}

/* Size of a file, or -1. */
static inline long long
st_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Overwrite n bytes of a file at off. */
static inline void
st_poke(const char *path, long long off, const void *b, size_t n)
{
    int fd = open(path, O_WRONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, b, n, off), (ssize_t)n);
    close(fd);
}

#endif

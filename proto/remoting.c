/*
 * remoting.c - the RocketMQ remoting codec (remoting.h; spec
 * remoting-protocol.md section 1).  Runs inside whichever process owns a
 * client connection (acceptor, namesrv, librmq, rmqctl); pure functions
 * over caller-owned buffers, no global state, no shared data.  Nothing
 * here may abort on peer bytes: every length is checked and anything
 * malformed is RMQ_ERR_PROTO.
 *
 * Decoding JSON headers has two paths.  The fast path is a strict scanner
 * for the shape every client sends (one flat object; integers, strings,
 * booleans and nulls; extFields one level deep).  Whenever it meets
 * anything else (a real number, a nested value, an odd escape, bad input)
 * it gives up without judging, and jansson decodes the header again; so
 * jansson is the authority on what is valid and the scanner only ever
 * produces what jansson would have produced.
 *
 * Header strings are copied into the command's arena.  The arena is
 * reserved once per decode for an upper bound of what the header can
 * produce and is never grown afterwards, so pointers handed out stay
 * valid; a write that would not fit is refused instead (it cannot happen
 * with a correct bound, and refusing is safe if it ever did).
 */
#include "proto/remoting.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RCMD_BIN_FIXED 21 /* ROCKETMQ header without remark and ext block */

/*
 * Arena bytes reserved beyond the header length.  The fast path writes no
 * more than it reads; jansson may print a number longer than its source
 * ("1e5" -> "100000"), at most 25 bytes plus a NUL, once per ext field.
 */
#define RCMD_ARENA_SLACK ((RMQ_RCMD_EXT_MAX + 2) * 40)

/* The fast JSON scanner's "not sure, ask jansson" answer. */
#define RCMD_SLOW (-1)

static const char *const rcmd_lang_names[RMQ_LANG__COUNT] = {
    [RMQ_LANG_JAVA] = "JAVA",     [RMQ_LANG_CPP] = "CPP",
    [RMQ_LANG_DOTNET] = "DOTNET", [RMQ_LANG_PYTHON] = "PYTHON",
    [RMQ_LANG_DELPHI] = "DELPHI", [RMQ_LANG_ERLANG] = "ERLANG",
    [RMQ_LANG_RUBY] = "RUBY",     [RMQ_LANG_OTHER] = "OTHER",
    [RMQ_LANG_HTTP] = "HTTP",     [RMQ_LANG_GO] = "GO",
    [RMQ_LANG_PHP] = "PHP",       [RMQ_LANG_OMS] = "OMS",
    [RMQ_LANG_RUST] = "RUST",     [RMQ_LANG_NODE_JS] = "NODE_JS",
};

const char *
rmq_language_name(int32_t lang)
{
    if (lang < 0 || lang >= RMQ_LANG__COUNT) {
        return rcmd_lang_names[RMQ_LANG_OTHER];
    }
    return rcmd_lang_names[lang];
}

/* The ordinal of a language name (not NUL-terminated); OTHER if unknown. */
static int32_t
rcmd_lang_lookup(const char *name, size_t len)
{
    for (int32_t i = 0; i < RMQ_LANG__COUNT; i++) {
        if (strlen(rcmd_lang_names[i]) == len &&
            memcmp(rcmd_lang_names[i], name, len) == 0) {
            return i;
        }
    }
    return RMQ_LANG_OTHER;
}

static int32_t
rcmd_lang_from_int(int64_t v)
{
    if (v < 0 || v >= RMQ_LANG__COUNT) {
        return RMQ_LANG_OTHER;
    }
    return (int32_t)v;
}

/* ------------------------------------------------------------------------
 * Command lifetime and the arena
 */

void
rmq_rcmd_init(rmq_rcmd *c)
{
    memset(c, 0, sizeof(*c));
    rmq_buf_init(&c->arena);
}

/* Clear what a header decode fills in; the arena keeps its memory. */
static void
rcmd_clear_header(rmq_rcmd *c)
{
    c->code = 0;
    c->language = 0;
    c->version = 0;
    c->opaque = 0;
    c->flag = 0;
    c->remark = NULL;
    c->next = 0;
    rmq_buf_reset(&c->arena);
}

void
rmq_rcmd_reset(rmq_rcmd *c)
{
    /* ext[] is not wiped: next bounds what is valid, and this is per request */
    rcmd_clear_header(c);
    c->serialize_type = 0;
    c->body = NULL;
    c->body_len = 0;
}

void
rmq_rcmd_free(rmq_rcmd *c)
{
    rmq_buf_free(&c->arena);
    rmq_rcmd_init(c);
}

/* Reserve the arena once for a header of hdr_len bytes. */
static int
rcmd_arena_open(rmq_rcmd *c, size_t hdr_len)
{
    rmq_buf_reset(&c->arena);
    return rmq_buf_reserve(&c->arena, hdr_len + RCMD_ARENA_SLACK);
}

static size_t
rcmd_arena_room(const rmq_rcmd *c)
{
    return c->arena.cap - c->arena.len;
}

/*
 * Copy n bytes plus a NUL into the reserved arena.  Never grows it (that
 * would move strings already handed out); RMQ_ERR_PROTO if it is full.
 */
static int
rcmd_arena_put(rmq_rcmd *c, const void *s, size_t n, const char **out)
{
    char *dst;

    if (rcmd_arena_room(c) <= n) {
        return RMQ_ERR_PROTO;
    }
    dst = (char *)c->arena.data + c->arena.len;
    if (n > 0) {
        memcpy(dst, s, n);
    }
    dst[n] = '\0';
    c->arena.len += n + 1;
    *out = dst;
    return 0;
}

/* ------------------------------------------------------------------------
 * ext fields of a decoded command
 */

/*
 * Index of key in c->ext, or -1.  Runs for every field decoded (duplicate
 * check), so the length and first byte are compared before memcmp.
 */
static int
rcmd_ext_find(const rmq_rcmd *c, const char *key, size_t klen)
{
    for (uint32_t i = 0; i < c->next; i++) {
        const rmq_ext *e = &c->ext[i];

        if (e->key_len == klen && (klen == 0 || e->key[0] == key[0]) &&
            memcmp(e->key, key, klen) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/*
 * Set key to value (both already NUL-terminated in the arena).  A later
 * duplicate replaces the earlier value, like Java's HashMap.  More than
 * RMQ_RCMD_EXT_MAX distinct keys is RMQ_ERR_PROTO.
 */
static int
rcmd_ext_set(rmq_rcmd *c, const char *key, uint32_t klen, const char *value,
             uint32_t vlen)
{
    int      i = rcmd_ext_find(c, key, klen);
    rmq_ext *e;

    if (i < 0) {
        if (c->next >= RMQ_RCMD_EXT_MAX) {
            return RMQ_ERR_PROTO;
        }
        i = (int)c->next++;
    }
    e = &c->ext[i];
    e->key = key;
    e->key_len = klen;
    e->value = value;
    e->value_len = vlen;
    return 0;
}

/* A null value: the key is absent, even if an earlier duplicate set it. */
static void
rcmd_ext_unset(rmq_rcmd *c, const char *key, size_t klen)
{
    int i = rcmd_ext_find(c, key, klen);

    if (i < 0) {
        return;
    }
    memmove(&c->ext[i], &c->ext[i + 1],
            (c->next - (uint32_t)i - 1) * sizeof(c->ext[0]));
    c->next--;
}

/* ------------------------------------------------------------------------
 * UTF-8
 */

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) that starts with the non-ASCII
 * byte at p, or 0 if there is none.
 */
static size_t
utf8_seq_len(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    size_t  n;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* True when s is well-formed UTF-8 without NUL bytes. */
static bool
utf8_is_clean(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t k;

        if (s[i] != 0 && s[i] < 0x80) {
            i++;
            continue;
        }
        k = s[i] == 0 ? 0 : utf8_seq_len(s + i, n - i);
        if (k == 0) {
            return false;
        }
        i += k;
    }
    return true;
}

static size_t
utf8_put(uint8_t *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xC0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------
 * Frames
 */

/*
 * The whole frame (length word included) is limited to max_frame, as in
 * Netty's LengthFieldBasedFrameDecoder that Java uses.  The length is
 * judged as soon as its word is in, so an oversized frame is refused
 * before anything is buffered for it.
 */
int
rmq_frame_peek(const uint8_t *buf, size_t len, size_t max_frame,
               size_t *frame_len)
{
    uint32_t flen;
    uint32_t word;

    if (len < 4) {
        return RMQ_ERR_AGAIN;
    }
    flen = rmq_be32(buf);
    if (flen < 4) {
        return RMQ_ERR_PROTO;
    }
    if ((uint64_t)flen + 4 > (uint64_t)max_frame) {
        return RMQ_ERR_TOOBIG;
    }
    if (len < 8) {
        return RMQ_ERR_AGAIN;
    }
    word = rmq_be32(buf + 4);
    if ((word >> 24) > RMQ_SERIALIZE_ROCKETMQ ||
        (word & 0xFFFFFFu) > flen - 4) {
        return RMQ_ERR_PROTO;
    }
    if (len - 4 < flen) {
        return RMQ_ERR_AGAIN;
    }
    *frame_len = (size_t)flen + 4;
    return 0;
}

/* ------------------------------------------------------------------------
 * ROCKETMQ binary headers
 */

/* A bounds-checked reader over the header bytes. */
typedef struct bin_rd {
    const uint8_t *p;
    size_t         left;
} bin_rd;

static bool
bin_take(bin_rd *r, size_t n, const uint8_t **out)
{
    if (r->left < n) {
        return false;
    }
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

/* A length-prefixed string whose length was already read. */
static int
bin_str(bin_rd *r, rmq_rcmd *c, int64_t len, const char **out)
{
    const uint8_t *s;

    if (len < 0 || !bin_take(r, (size_t)len, &s) ||
        !utf8_is_clean(s, (size_t)len)) {
        return RMQ_ERR_PROTO;
    }
    return rcmd_arena_put(c, s, (size_t)len, out);
}

static int
bin_ext_pair(bin_rd *r, rmq_rcmd *c)
{
    const uint8_t *p;
    const char    *key;
    const char    *value;
    int16_t        klen;
    int32_t        vlen;
    int            rc;

    if (!bin_take(r, 2, &p)) {
        return RMQ_ERR_PROTO;
    }
    klen = (int16_t)rmq_be16(p);
    if ((rc = bin_str(r, c, klen, &key)) != 0) {
        return rc;
    }
    if (!bin_take(r, 4, &p)) {
        return RMQ_ERR_PROTO;
    }
    vlen = (int32_t)rmq_be32(p);
    if ((rc = bin_str(r, c, vlen, &value)) != 0) {
        return rc;
    }
    /* zero-length strings decode as null: such a pair is absent */
    if (klen == 0 || vlen == 0) {
        rcmd_ext_unset(c, key, (size_t)klen);
        return 0;
    }
    return rcmd_ext_set(c, key, (uint32_t)klen, value, (uint32_t)vlen);
}

/*
 * The fixed part: code int16, language byte, version int16, opaque int32,
 * flag int32, then the remark length.  The header must be exactly
 * 21 + remark + ext block bytes long.
 */
static int
bin_decode(rmq_rcmd *c, const uint8_t *hdr, size_t len)
{
    bin_rd         r = {hdr, len};
    const uint8_t *p;
    int32_t        n;
    int            rc;

    if (len < RCMD_BIN_FIXED) {
        return RMQ_ERR_PROTO;
    }
    if (rcmd_arena_open(c, len) != 0) {
        return RMQ_ERR_NOMEM;
    }
    c->code = (int16_t)rmq_be16(hdr);
    c->language = rcmd_lang_from_int(hdr[2]);
    c->version = (int16_t)rmq_be16(hdr + 3);
    c->opaque = (int32_t)rmq_be32(hdr + 5);
    c->flag = (int32_t)rmq_be32(hdr + 9);
    n = (int32_t)rmq_be32(hdr + 13);
    r.p += 17;
    r.left -= 17;
    if (n != 0 && (rc = bin_str(&r, c, n, &c->remark)) != 0) {
        return rc;
    }
    if (!bin_take(&r, 4, &p)) {
        return RMQ_ERR_PROTO;
    }
    n = (int32_t)rmq_be32(p);
    if (n < 0 || (size_t)n != r.left) {
        return RMQ_ERR_PROTO;
    }
    while (r.left > 0) {
        if ((rc = bin_ext_pair(&r, c)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * JSON headers, fast path
 */

typedef struct jscan {
    const uint8_t *p;
    const uint8_t *end;
    rmq_rcmd      *cmd;
    bool           has_code;
    bool           has_ext;
} jscan;

static void
js_ws(jscan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

/* Consume ch (after optional whitespace). */
static bool
js_eat(jscan *s, uint8_t ch)
{
    js_ws(s);
    if (s->p < s->end && *s->p == ch) {
        s->p++;
        return true;
    }
    return false;
}

static bool
js_lit(jscan *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) {
        return false;
    }
    s->p += n;
    return true;
}

/*
 * A JSON integer token of at most 18 digits (so it fits int64 without
 * checks; longer ones go to jansson, which knows its own limits).  "-0" is
 * left to jansson too, which reads it as 0.
 */
static int
js_int(jscan *s, int64_t *v, const uint8_t **tok, size_t *tok_len)
{
    const uint8_t *q = s->p;
    bool           neg = false;
    int64_t        x = 0;
    size_t         nd = 0;

    if (q < s->end && *q == '-') {
        neg = true;
        q++;
    }
    while (q < s->end && *q >= '0' && *q <= '9') {
        /* count first: a 19th digit could overflow the multiplication */
        if (++nd > 18) {
            return RCMD_SLOW;
        }
        x = x * 10 + (*q - '0');
        q++;
    }
    if (nd == 0 || (nd > 1 && q[-(ptrdiff_t)nd] == '0') || (neg && x == 0)) {
        return RCMD_SLOW;
    }
    if (q < s->end && (*q == '.' || *q == 'e' || *q == 'E')) {
        return RCMD_SLOW;
    }
    *v = neg ? -x : x;
    *tok = s->p;
    *tok_len = (size_t)(q - s->p);
    s->p = q;
    return 0;
}

static int
js_hex4(const uint8_t *p, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        uint8_t h = p[i];

        v <<= 4;
        if (h >= '0' && h <= '9') {
            v |= (uint32_t)(h - '0');
        } else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f') {
            v |= (uint32_t)((h | 0x20) - 'a' + 10);
        } else {
            return RCMD_SLOW;
        }
    }
    *out = v;
    return 0;
}

/*
 * A \uXXXX escape at s->p (just after the backslash-u), with a following
 * low surrogate when XXXX is a high one.  U+0000 and lone surrogates are
 * left to jansson (which refuses them).
 */
static int
js_uescape(jscan *s, uint8_t **d)
{
    uint32_t cp;
    uint32_t lo;

    if (s->end - s->p < 4 || js_hex4(s->p, &cp) != 0 || cp == 0 ||
        (cp >= 0xDC00 && cp <= 0xDFFF)) {
        return RCMD_SLOW;
    }
    s->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
            js_hex4(s->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
            return RCMD_SLOW;
        }
        s->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *d += utf8_put(*d, cp);
    return 0;
}

static int
js_escape(jscan *s, uint8_t **d)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char       *hit;

    if (s->p >= s->end) {
        return RCMD_SLOW;
    }
    if (*s->p == 'u') {
        s->p++;
        return js_uescape(s, d);
    }
    hit = memchr(from, *s->p, sizeof(from) - 1);
    if (hit == NULL) {
        return RCMD_SLOW;
    }
    *(*d)++ = (uint8_t)to[hit - from];
    s->p++;
    return 0;
}

/*
 * Decode the string whose opening quote is at s->p into the arena.  The
 * decoded text is never longer than its source, which bounds the write.
 */
static int
js_str(jscan *s, const char **out, uint32_t *len)
{
    rmq_rcmd *c = s->cmd;
    uint8_t  *start;
    uint8_t  *d;

    if (s->p >= s->end || *s->p != '"' ||
        rcmd_arena_room(c) <= (size_t)(s->end - s->p)) {
        return RCMD_SLOW;
    }
    s->p++;
    start = d = c->arena.data + c->arena.len;
    for (;;) {
        uint8_t ch;
        size_t  k;

        if (s->p >= s->end) {
            return RCMD_SLOW;
        }
        ch = *s->p;
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            *d++ = ch;
            s->p++;
            continue;
        }
        if (ch == '"') {
            break;
        }
        if (ch == '\\') {
            s->p++;
            if (js_escape(s, &d) != 0) {
                return RCMD_SLOW;
            }
            continue;
        }
        k = ch < 0x80 ? 0 : utf8_seq_len(s->p, (size_t)(s->end - s->p));
        if (k == 0) {
            return RCMD_SLOW;
        }
        memcpy(d, s->p, k);
        d += k;
        s->p += k;
    }
    s->p++;
    *d = '\0';
    *out = (const char *)start;
    *len = (uint32_t)(d - start);
    c->arena.len += (size_t)(d - start) + 1;
    return 0;
}

/* A string token that needs no decoding (plain ASCII, no escapes). */
static int
js_raw_str(jscan *s, const uint8_t **str, size_t *len)
{
    const uint8_t *q;

    if (s->p >= s->end || *s->p != '"') {
        return RCMD_SLOW;
    }
    q = ++s->p;
    while (q < s->end && *q != '"') {
        if (*q < 0x20 || *q >= 0x80 || *q == '\\') {
            return RCMD_SLOW;
        }
        q++;
    }
    if (q >= s->end) {
        return RCMD_SLOW;
    }
    *str = s->p;
    *len = (size_t)(q - s->p);
    s->p = q + 1;
    return 0;
}

static int
js_ext_put(jscan *s, const char *key, uint32_t klen, const void *text, size_t n)
{
    const char *v;

    if (rcmd_arena_put(s->cmd, text, n, &v) != 0 ||
        rcmd_ext_set(s->cmd, key, klen, v, (uint32_t)n) != 0) {
        return RCMD_SLOW;
    }
    return 0;
}

/* One extFields value for key: any JSON scalar but a real. */
static int
js_ext_value(jscan *s, const char *key, uint32_t klen)
{
    const char    *v;
    uint32_t       vlen;
    const uint8_t *tok;
    size_t         tlen;
    int64_t        num;

    if (s->p < s->end && *s->p == '"') {
        if (js_str(s, &v, &vlen) != 0 ||
            rcmd_ext_set(s->cmd, key, klen, v, vlen) != 0) {
            return RCMD_SLOW;
        }
        return 0;
    }
    if (js_lit(s, "true", 4)) {
        return js_ext_put(s, key, klen, "true", 4);
    }
    if (js_lit(s, "false", 5)) {
        return js_ext_put(s, key, klen, "false", 5);
    }
    if (js_lit(s, "null", 4)) {
        rcmd_ext_unset(s->cmd, key, klen);
        return 0;
    }
    if (js_int(s, &num, &tok, &tlen) != 0) {
        return RCMD_SLOW;
    }
    return js_ext_put(s, key, klen, tok, tlen);
}

static int
js_ext_object(jscan *s)
{
    const char *key;
    uint32_t    klen;

    /* a second extFields replaces the first in jansson: leave that to it */
    if (s->has_ext || !js_eat(s, '{')) {
        return RCMD_SLOW;
    }
    s->has_ext = true;
    if (js_eat(s, '}')) {
        return 0;
    }
    do {
        js_ws(s);
        if (js_str(s, &key, &klen) != 0 || !js_eat(s, ':')) {
            return RCMD_SLOW;
        }
        js_ws(s);
        if (js_ext_value(s, key, klen) != 0) {
            return RCMD_SLOW;
        }
    } while (js_eat(s, ','));
    return js_eat(s, '}') ? 0 : RCMD_SLOW;
}

/* An int32 member (code, version, opaque, flag). */
static int
js_top_int(jscan *s, int32_t *out)
{
    const uint8_t *tok;
    size_t         tlen;
    int64_t        v;

    if (js_int(s, &v, &tok, &tlen) != 0 || v < INT32_MIN || v > INT32_MAX) {
        return RCMD_SLOW;
    }
    *out = (int32_t)v;
    return 0;
}

static int
js_language(jscan *s)
{
    const uint8_t *name;
    size_t         len;

    if (s->p < s->end && *s->p == '"') {
        if (js_raw_str(s, &name, &len) != 0) {
            return RCMD_SLOW;
        }
        s->cmd->language = rcmd_lang_lookup((const char *)name, len);
        return 0;
    }
    if (js_top_int(s, &s->cmd->language) != 0) {
        return RCMD_SLOW;
    }
    s->cmd->language = rcmd_lang_from_int(s->cmd->language);
    return 0;
}

static int
js_remark(jscan *s)
{
    uint32_t len;

    if (js_lit(s, "null", 4)) {
        s->cmd->remark = NULL;
        return 0;
    }
    return js_str(s, &s->cmd->remark, &len);
}

/* The value of a key we do not use: checked, then dropped. */
static int
js_skip_value(jscan *s)
{
    size_t         mark = s->cmd->arena.len;
    const char    *str;
    uint32_t       slen;
    const uint8_t *tok;
    size_t         tlen;
    int64_t        num;

    if (s->p < s->end && *s->p == '"') {
        if (js_str(s, &str, &slen) != 0) {
            return RCMD_SLOW;
        }
        s->cmd->arena.len = mark;
        return 0;
    }
    if (js_lit(s, "true", 4) || js_lit(s, "false", 5) || js_lit(s, "null", 4)) {
        return 0;
    }
    return js_int(s, &num, &tok, &tlen);
}

static bool
js_key_is(const uint8_t *k, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

static int
js_member(jscan *s, const uint8_t *k, size_t klen)
{
    rmq_rcmd *c = s->cmd;

    if (js_key_is(k, klen, "code")) {
        s->has_code = true;
        return js_top_int(s, &c->code);
    }
    if (js_key_is(k, klen, "extFields")) {
        return js_ext_object(s);
    }
    if (js_key_is(k, klen, "flag")) {
        return js_top_int(s, &c->flag);
    }
    if (js_key_is(k, klen, "opaque")) {
        return js_top_int(s, &c->opaque);
    }
    if (js_key_is(k, klen, "version")) {
        return js_top_int(s, &c->version);
    }
    if (js_key_is(k, klen, "language")) {
        return js_language(s);
    }
    if (js_key_is(k, klen, "remark")) {
        return js_remark(s);
    }
    return js_skip_value(s);
}

/*
 * The fast path: 0 when the header was decoded, RCMD_SLOW when jansson
 * must decide (the command is then left half-filled; the caller clears
 * it).
 */
static int
js_decode(rmq_rcmd *c, const uint8_t *hdr, size_t len)
{
    jscan          s = {hdr, hdr + len, c, false, false};
    const uint8_t *k;
    size_t         klen;

    if (!js_eat(&s, '{')) {
        return RCMD_SLOW;
    }
    do {
        js_ws(&s);
        if (js_raw_str(&s, &k, &klen) != 0 || !js_eat(&s, ':')) {
            return RCMD_SLOW;
        }
        js_ws(&s);
        if (js_member(&s, k, klen) != 0) {
            return RCMD_SLOW;
        }
    } while (js_eat(&s, ','));
    if (!js_eat(&s, '}')) {
        return RCMD_SLOW;
    }
    js_ws(&s);
    return s.p == s.end && s.has_code ? 0 : RCMD_SLOW;
}

/* ------------------------------------------------------------------------
 * JSON headers, jansson (the slow path and the authority)
 */

/* Shortest "%.Ng" text that reads back as the same double. */
static void
jn_real_text(double d, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            return;
        }
    }
}

/* The text an ext value stands for; *absent for null. */
static int
jn_scalar_text(const json_t *v, char *num, size_t cap, const char **text,
               size_t *len, bool *absent)
{
    *absent = false;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *text = json_string_value(v);
        *len = json_string_length(v);
        return strlen(*text) == *len ? 0 : RMQ_ERR_PROTO;
    case JSON_INTEGER:
        snprintf(num, cap, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        jn_real_text(json_real_value(v), num, cap);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        snprintf(num, cap, "%s", json_is_true(v) ? "true" : "false");
        break;
    case JSON_NULL:
        *absent = true;
        return 0;
    default:
        return RMQ_ERR_PROTO;
    }
    *text = num;
    *len = strlen(num);
    return 0;
}

static int
jn_ext_member(rmq_rcmd *c, const char *k, size_t klen, const json_t *v)
{
    char        num[40];
    const char *text;
    size_t      tlen;
    bool        absent;
    const char *key;
    const char *value;
    int         rc;

    if (strlen(k) != klen) {
        return RMQ_ERR_PROTO;
    }
    rc = jn_scalar_text(v, num, sizeof(num), &text, &tlen, &absent);
    if (rc != 0 || absent) {
        return rc;
    }
    if ((rc = rcmd_arena_put(c, k, klen, &key)) != 0 ||
        (rc = rcmd_arena_put(c, text, tlen, &value)) != 0) {
        return rc;
    }
    return rcmd_ext_set(c, key, (uint32_t)klen, value, (uint32_t)tlen);
}

static int
jn_ext(rmq_rcmd *c, const json_t *ext)
{
    const char *k;
    size_t      klen;
    json_t     *v;
    int         rc;

    if (ext == NULL || json_is_null(ext)) {
        return 0;
    }
    if (!json_is_object(ext)) {
        return RMQ_ERR_PROTO;
    }
    json_object_keylen_foreach((json_t *)ext, k, klen, v)
    {
        if ((rc = jn_ext_member(c, k, klen, v)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* An optional int32 member; absent or null leaves *out at 0. */
static int
jn_int(const json_t *root, const char *name, int32_t *out)
{
    const json_t *v = json_object_get(root, name);
    json_int_t    x;

    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_integer(v)) {
        return RMQ_ERR_PROTO;
    }
    x = json_integer_value(v);
    if (x < INT32_MIN || x > INT32_MAX) {
        return RMQ_ERR_PROTO;
    }
    *out = (int32_t)x;
    return 0;
}

static int
jn_language(rmq_rcmd *c, const json_t *v)
{
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        c->language =
            rcmd_lang_lookup(json_string_value(v), json_string_length(v));
        return 0;
    }
    if (json_is_integer(v)) {
        c->language = rcmd_lang_from_int(json_integer_value(v));
        return 0;
    }
    return RMQ_ERR_PROTO;
}

static int
jn_remark(rmq_rcmd *c, const json_t *v)
{
    size_t n;

    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v)) {
        return RMQ_ERR_PROTO;
    }
    n = json_string_length(v);
    if (strlen(json_string_value(v)) != n) {
        return RMQ_ERR_PROTO;
    }
    return rcmd_arena_put(c, json_string_value(v), n, &c->remark);
}

static int
jn_fields(rmq_rcmd *c, const json_t *root)
{
    int rc;

    if (!json_is_object(root) ||
        !json_is_integer(json_object_get(root, "code"))) {
        return RMQ_ERR_PROTO;
    }
    if ((rc = jn_int(root, "code", &c->code)) != 0 ||
        (rc = jn_int(root, "version", &c->version)) != 0 ||
        (rc = jn_int(root, "opaque", &c->opaque)) != 0 ||
        (rc = jn_int(root, "flag", &c->flag)) != 0 ||
        (rc = jn_language(c, json_object_get(root, "language"))) != 0 ||
        (rc = jn_remark(c, json_object_get(root, "remark"))) != 0) {
        return rc;
    }
    return jn_ext(c, json_object_get(root, "extFields"));
}

static int
jn_decode(rmq_rcmd *c, const uint8_t *hdr, size_t len)
{
    json_t      *root;
    json_error_t jerr;
    int          rc;

    rcmd_clear_header(c);
    if (rcmd_arena_open(c, len) != 0) {
        return RMQ_ERR_NOMEM;
    }
    root = json_loadb((const char *)hdr, len, 0, &jerr);
    if (root == NULL) {
        return RMQ_ERR_PROTO;
    }
    rc = jn_fields(c, root);
    json_decref(root);
    return rc;
}

static int
rcmd_decode_json(rmq_rcmd *c, const uint8_t *hdr, size_t len)
{
    if (rcmd_arena_open(c, len) != 0) {
        return RMQ_ERR_NOMEM;
    }
    if (js_decode(c, hdr, len) == 0) {
        return 0;
    }
    return jn_decode(c, hdr, len);
}

/* ------------------------------------------------------------------------
 * Decoding a frame
 */

typedef int (*rcmd_json_fn)(rmq_rcmd *c, const uint8_t *hdr, size_t len);

static int
rcmd_decode_with(const uint8_t *frame, size_t frame_len, rmq_rcmd *cmd,
                 rcmd_json_fn json)
{
    uint32_t flen;
    uint32_t word;
    uint32_t hlen;
    int      rc;

    rmq_rcmd_reset(cmd);
    if (frame_len < 8) {
        return RMQ_ERR_PROTO;
    }
    flen = rmq_be32(frame);
    word = rmq_be32(frame + 4);
    hlen = word & 0xFFFFFFu;
    if ((uint64_t)flen + 4 != (uint64_t)frame_len ||
        (word >> 24) > RMQ_SERIALIZE_ROCKETMQ || hlen > flen - 4) {
        return RMQ_ERR_PROTO;
    }
    cmd->serialize_type = (uint8_t)(word >> 24);
    if (cmd->serialize_type == RMQ_SERIALIZE_JSON) {
        rc = json(cmd, frame + 8, hlen);
    } else {
        rc = bin_decode(cmd, frame + 8, hlen);
    }
    if (rc != 0) {
        rmq_rcmd_reset(cmd);
        return rc;
    }
    cmd->body_len = flen - 4 - hlen;
    cmd->body = cmd->body_len > 0 ? frame + 8 + hlen : NULL;
    return 0;
}

int
rmq_rcmd_decode(const uint8_t *frame, size_t frame_len, rmq_rcmd *cmd)
{
    return rcmd_decode_with(frame, frame_len, cmd, rcmd_decode_json);
}

int
rmq_rcmd_decode_jansson(const uint8_t *frame, size_t frame_len, rmq_rcmd *cmd)
{
    return rcmd_decode_with(frame, frame_len, cmd, jn_decode);
}

/* ------------------------------------------------------------------------
 * ext lookups
 */

const char *
rmq_rcmd_ext(const rmq_rcmd *c, const char *key)
{
    int i = rcmd_ext_find(c, key, strlen(key));

    return i < 0 ? NULL : c->ext[i].value;
}

int
rmq_rcmd_ext_i64(const rmq_rcmd *c, const char *key, int64_t *out)
{
    const char *v = rmq_rcmd_ext(c, key);

    if (v == NULL) {
        return RMQ_ERR_NOTFOUND;
    }
    return rmq_parse_i64(v, out) == 0 ? 0 : RMQ_ERR_INVAL;
}

int
rmq_rcmd_ext_i32(const rmq_rcmd *c, const char *key, int32_t *out)
{
    const char *v = rmq_rcmd_ext(c, key);

    if (v == NULL) {
        return RMQ_ERR_NOTFOUND;
    }
    return rmq_parse_i32(v, out) == 0 ? 0 : RMQ_ERR_INVAL;
}

bool
rmq_rcmd_ext_bool(const rmq_rcmd *c, const char *key)
{
    return rmq_parse_bool(rmq_rcmd_ext(c, key));
}

/* ------------------------------------------------------------------------
 * Encoding
 */

void
rmq_rcmd_out_init(rmq_rcmd_out *o, int32_t code, int32_t opaque, int32_t flag)
{
    o->code = code;
    o->opaque = opaque;
    o->flag = flag;
    o->version = 410;
    o->language = RMQ_LANG_JAVA;
    o->remark = NULL;
    o->next = 0;
}

void
rmq_rcmd_out_ext(rmq_rcmd_out *o, const char *key, const char *value)
{
    rmq_ext *e;

    RMQ_ASSERT(o->next < RMQ_RCMD_EXT_MAX);
    e = &o->ext[o->next++];
    e->key = key;
    e->value = value;
    e->key_len = (uint32_t)strlen(key);
    e->value_len = (uint32_t)strlen(value);
}

static uint8_t *
enc_lit(uint8_t *d, const char *s)
{
    size_t n = strlen(s);

    memcpy(d, s, n);
    return d + n;
}

static uint8_t *
enc_i32(uint8_t *d, int32_t v)
{
    char     tmp[12];
    size_t   n = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *d++ = '-';
    }
    while (n > 0) {
        *d++ = (uint8_t)tmp[--n];
    }
    return d;
}

/* One byte that JSON needs escaped, or a byte that is not UTF-8. */
static uint8_t *
enc_special(uint8_t *d, uint8_t c)
{
    static const char hex[] = "0123456789abcdef";

    if (c == '"' || c == '\\') {
        d[0] = '\\';
        d[1] = c;
        return d + 2;
    }
    if (c >= 0x20) {
        /* a stray byte that does not start well-formed UTF-8 */
        return enc_lit(d, "\\ufffd");
    }
    d = enc_lit(d, "\\u00");
    d[0] = (uint8_t)hex[c >> 4];
    d[1] = (uint8_t)hex[c & 0xF];
    return d + 2;
}

/*
 * A quoted JSON string: ", \ and U+0000..U+001F escaped, well-formed
 * UTF-8 copied as is, every other byte replaced by \ufffd (so the output
 * is always valid JSON).  Writes at most 6 * n + 2 bytes.
 */
static uint8_t *
enc_str(uint8_t *d, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t         i = 0;

    *d++ = '"';
    while (i < n) {
        uint8_t c = s[i];
        size_t  k;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *d++ = c;
            i++;
            continue;
        }
        k = c < 0x80 ? 0 : utf8_seq_len(s + i, n - i);
        if (k == 0) {
            d = enc_special(d, c);
            i++;
            continue;
        }
        memcpy(d, s + i, k);
        d += k;
        i += k;
    }
    *d++ = '"';
    return d;
}

/* Raw bytes of all strings, or SIZE_MAX when over the frame limit. */
static size_t
enc_raw_len(const rmq_rcmd_out *o)
{
    size_t n = o->remark != NULL ? strlen(o->remark) : 0;

    for (uint32_t i = 0; i < o->next && n <= RMQ_FRAME_MAX; i++) {
        n += strlen(o->ext[i].key) + strlen(o->ext[i].value);
    }
    return n > RMQ_FRAME_MAX ? SIZE_MAX : n;
}

static uint8_t *
enc_ext(uint8_t *d, const rmq_rcmd_out *o)
{
    d = enc_lit(d, ",\"extFields\":{");
    for (uint32_t i = 0; i < o->next; i++) {
        if (i > 0) {
            *d++ = ',';
        }
        d = enc_str(d, o->ext[i].key, strlen(o->ext[i].key));
        *d++ = ':';
        d = enc_str(d, o->ext[i].value, strlen(o->ext[i].value));
    }
    *d++ = '}';
    return d;
}

/* Keys in alphabetical order, as fastjson writes them. */
static uint8_t *
enc_header(uint8_t *d, const rmq_rcmd_out *o)
{
    d = enc_lit(d, "{\"code\":");
    d = enc_i32(d, o->code);
    if (o->next > 0) {
        d = enc_ext(d, o);
    }
    d = enc_lit(d, ",\"flag\":");
    d = enc_i32(d, o->flag);
    d = enc_lit(d, ",\"language\":\"");
    d = enc_lit(d, rmq_language_name(o->language));
    d = enc_lit(d, "\",\"opaque\":");
    d = enc_i32(d, o->opaque);
    if (o->remark != NULL) {
        d = enc_lit(d, ",\"remark\":");
        d = enc_str(d, o->remark, strlen(o->remark));
    }
    d = enc_lit(d, ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    d = enc_i32(d, o->version);
    *d++ = '}';
    return d;
}

int
rmq_rcmd_encode(const rmq_rcmd_out *o, uint32_t body_len, rmq_buf *out)
{
    size_t   raw = enc_raw_len(o);
    size_t   bound;
    size_t   hlen;
    uint8_t *start;
    uint8_t *end;

    if (raw == SIZE_MAX) {
        return RMQ_ERR_TOOBIG;
    }
    /* fixed text + 4 quotes, colon and comma per ext field, all escaped */
    bound = 8 + 256 + (size_t)o->next * 16 + raw * 6;
    if (rmq_buf_reserve(out, bound) != 0) {
        return RMQ_ERR_NOMEM;
    }
    start = out->data + out->len;
    end = enc_header(start + 8, o);
    hlen = (size_t)(end - start) - 8;
    if (8 + (uint64_t)hlen + body_len > RMQ_FRAME_MAX) {
        return RMQ_ERR_TOOBIG;
    }
    rmq_put_be32(start, (uint32_t)(4 + hlen + body_len));
    rmq_put_be32(start + 4, (uint32_t)hlen); /* serialize type 0: JSON */
    out->len += 8 + hlen;
    return 0;
}

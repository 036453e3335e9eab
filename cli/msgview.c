/*
 * msgview.c - see msgview.h.
 */
#include "cli/msgview.h"

#include "cli/remote.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * The body as a JSON string when it is text (valid UTF-8 without control
 * characters other than \t \r \n), else NULL.
 */
static json_t *
msgview_text(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') ||
            p[i] == 0x7f) {
            return NULL;
        }
    }
    /* jansson refuses invalid UTF-8: a validator for free */
    return json_stringn((const char *)p, len);
}

static bool
msgview_is_text(const uint8_t *p, size_t len)
{
    json_t *text = msgview_text(p, len);

    json_decref(text);
    return text != NULL;
}

static char *
msgview_hex(const uint8_t *p, size_t len)
{
    char *out = malloc(len * 2 + 1);

    if (out != NULL) {
        rmq_hex_upper(p, len, out);
        out[len * 2] = '\0';
    }
    return out;
}

/* A JSON string of possibly invalid UTF-8: bad bytes become U+FFFD. */
static json_t *
msgview_jstr(const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    rmq_buf b;

    if (v != NULL) {
        return v;
    }
    rmq_buf_init(&b);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x80) {
            rmq_buf_append(&b, &s[i], 1);
        } else {
            rmq_buf_append_str(&b, "\xEF\xBF\xBD");
        }
    }
    v = json_stringn((const char *)b.data, b.len);
    rmq_buf_free(&b);
    return v;
}

static json_t *
msgview_props_json(const rmq_props *p)
{
    json_t *o = json_object();
    char    key[512];

    for (uint32_t i = 0; i < p->n; i++) {
        size_t  klen = p->p[i].key_len < sizeof(key) - 1 ? p->p[i].key_len
                                                         : sizeof(key) - 1;
        json_t *v = msgview_jstr(p->p[i].value, p->p[i].value_len);
        memcpy(key, p->p[i].key, klen);
        key[klen] = '\0';
        if (json_object_set(o, key, v) != 0) {
            /* a key that is not UTF-8: keep it under a readable name */
            json_t *k = msgview_jstr(key, klen);
            json_object_set(o, json_string_value(k), v);
            json_decref(k);
        }
        json_decref(v);
    }
    return o;
}

static json_t *
msgview_body_json(const rmqctl_msg *m, json_t *o)
{
    json_t *text = msgview_text(m->body, m->body_len);
    char   *hex = text ? NULL : msgview_hex(m->body, m->body_len);

    json_object_set_new(o, "bodyLength", json_integer((json_int_t)m->body_len));
    json_object_set_new(o, "bodyEncoding", json_string(text ? "text" : "hex"));
    json_object_set_new(o, "body", text ? text : json_string(hex ? hex : ""));
    free(hex);
    return o;
}

json_t *
rmqctl_msg_json(const rmqctl_msg *m)
{
    json_t *o = json_pack(
        "{s:s, s:s?, s:i, s:I, s:I, s:s, s:s, s:s?, s:s?, s:o, s:i, s:i, "
        "s:i, s:I, s:s, s:I, s:s}",
        "topic", m->topic, "brokerName", m->broker_name, "queueId", m->queue_id,
        "queueOffset", (json_int_t)m->queue_offset, "commitLogOffset",
        (json_int_t)m->commitlog_offset, "msgId", m->msg_id, "offsetMsgId",
        m->offset_msg_id, "tags", m->tags, "keys", m->keys, "properties",
        msgview_props_json(&m->props), "reconsumeTimes", m->reconsume_times,
        "flag", m->flag, "sysFlag", m->sysflag, "bornTimestamp",
        (json_int_t)m->born_ms, "bornHost", m->born_host, "storeTimestamp",
        (json_int_t)m->store_ms, "storeHost", m->store_host);

    return o != NULL ? msgview_body_json(m, o) : NULL;
}

/* key=value, the value in double quotes when it has a space or quote. */
static void
msgview_props_print(const rmq_props *p, FILE *out)
{
    fprintf(out, "%-13s", "properties");
    for (uint32_t i = 0; i < p->n; i++) {
        const rmq_prop *e = &p->p[i];
        bool            quote = e->value_len == 0 ||
                     memchr(e->value, ' ', e->value_len) != NULL ||
                     memchr(e->value, '"', e->value_len) != NULL;
        fprintf(out, " %.*s=", (int)e->key_len, e->key);
        if (!quote) {
            fprintf(out, "%.*s", (int)e->value_len, e->value);
            continue;
        }
        fputc('"', out);
        for (uint32_t j = 0; j < e->value_len; j++) {
            if (e->value[j] == '"' || e->value[j] == '\\') {
                fputc('\\', out);
            }
            fputc(e->value[j], out);
        }
        fputc('"', out);
    }
    fputc('\n', out);
}

static void
msgview_body_print(const rmqctl_msg *m, FILE *out)
{
    char *hex;

    if (msgview_is_text(m->body, m->body_len)) {
        fprintf(out, "%-13s %.*s\n", "body", (int)m->body_len,
                (const char *)m->body);
        return;
    }
    hex = msgview_hex(m->body, m->body_len);
    fprintf(out, "%-13s (%zu bytes, hex) %s\n", "body", m->body_len,
            hex ? hex : "");
    free(hex);
}

void
rmqctl_msg_print(const rmqctl_msg *m, FILE *out)
{
    char born[40], stored[40];

    rmqctl_fmt_time(m->born_ms, born, sizeof(born));
    rmqctl_fmt_time(m->store_ms, stored, sizeof(stored));
    fprintf(out, "%-13s %s\n", "topic", m->topic);
    fprintf(out, "%-13s %s%s%d, offset %lld (commit log %lld)\n", "queue",
            m->broker_name ? m->broker_name : "", m->broker_name ? ":" : "",
            m->queue_id, (long long)m->queue_offset,
            (long long)m->commitlog_offset);
    fprintf(out, "%-13s %s\n", "msgId", m->msg_id);
    fprintf(out, "%-13s %s\n", "offsetMsgId", m->offset_msg_id);
    fprintf(out, "%-13s %s\n", "tags", m->tags ? m->tags : "-");
    fprintf(out, "%-13s %s\n", "keys", m->keys ? m->keys : "-");
    msgview_props_print(&m->props, out);
    fprintf(out, "%-13s %d\n", "reconsume", m->reconsume_times);
    fprintf(out, "%-13s %s from %s\n", "born", born, m->born_host);
    fprintf(out, "%-13s %s at %s\n", "stored", stored, m->store_host);
    msgview_body_print(m, out);
    fputc('\n', out);
}

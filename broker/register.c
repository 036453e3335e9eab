/*
 * register.c - name server registration (register.h).  Acceptor only;
 * reads the topic table from the control segment.
 */
#include "broker/register.h"

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/codes.h"
#include "store/topics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_RETRY_MS 1000

static void
reg_parse_addrs(rmq_reg *r, const char *list)
{
    char        copy[RMQ_CONFIG_STR_MAX];
    char       *save = NULL;
    const char *tok;

    rmq_strlcpy(copy, list, sizeof(copy));
    for (tok = strtok_r(copy, ";", &save); tok && r->nns < RMQ_REG_NAMESRV_MAX;
         tok = strtok_r(NULL, ";", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        if (*tok != '\0') {
            rmq_strlcpy(r->ns[r->nns++].addr, tok, sizeof(r->ns[0].addr));
        }
    }
}

int
rmq_reg_init(rmq_reg *r, const rmq_config *cfg, const rmq_ctl *ctl,
             rmq_conns *conns, const char *broker_ip)
{
    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->ctl = ctl;
    r->conns = conns;
    r->next_opaque = 1;
    r->sent_gen = UINT64_MAX;
    rmq_buf_init(&r->body);
    snprintf(r->broker_addr, sizeof(r->broker_addr), "%s:%d", broker_ip,
             cfg->broker.listen_port);
    snprintf(r->ha_addr, sizeof(r->ha_addr), "%s:%d", broker_ip,
             cfg->broker.listen_port + 1);
    reg_parse_addrs(r, cfg->broker.namesrv_addr);
    return 0;
}

void
rmq_reg_fini(rmq_reg *r)
{
    rmq_buf_free(&r->body);
}

int
rmq_reg_topics_json(const rmq_ctl *ctl, bool wrapped, rmq_buf *out)
{
    json_t *table = json_object();
    json_t *doc;

    for (int i = 0; i < RMQ_TOPIC_MAX; i++) {
        rmq_topic_entry t;
        if (ctl->topics[i].state == RMQ_TOPIC_FREE) {
            break; /* entries are allocated in order and never freed */
        }
        if (rmq_ctl_topic_read(ctl, i, &t) && t.state == RMQ_TOPIC_LIVE) {
            json_object_set_new(table, t.name, rmq_topic_entry_json(&t));
        }
    }
    doc =
        json_pack("{s:{s:I, s:I}, s:o}", "dataVersion", "counter",
                  (json_int_t)atomic_load(&ctl->pos->topics_gen), "timestamp",
                  (json_int_t)ctl->hdr->created_ms, "topicConfigTable", table);
    if (wrapped) {
        doc = json_pack("{s:[], s:o}", "filterServerList",
                        "topicConfigSerializeWrapper", doc);
    }
    return rmq_json_append(out, doc, JSON_COMPACT | JSON_SORT_KEYS);
}

static void
reg_send(rmq_reg *r, struct rmq_reg_ns *ns, rmq_conn *c, int code)
{
    rmq_rcmd_out o;
    char         id[24], crc[24];

    snprintf(id, sizeof(id), "%lld", (long long)r->cfg->broker.broker_id);
    rmq_rcmd_out_init(&o, code, r->next_opaque++, 0);
    rmq_rcmd_out_ext(&o, "brokerName", r->cfg->broker.broker_name);
    rmq_rcmd_out_ext(&o, "brokerAddr", r->broker_addr);
    rmq_rcmd_out_ext(&o, "clusterName", r->cfg->broker.cluster_name);
    rmq_rcmd_out_ext(&o, "haServerAddr", r->ha_addr);
    rmq_rcmd_out_ext(&o, "brokerId", id);
    if (code == RMQ_REQ_UNREGISTER_BROKER) {
        rmq_conn_send(c, &o, NULL, 0);
        return;
    }
    snprintf(crc, sizeof(crc), "%u", rmq_body_crc(r->body.data, r->body.len));
    rmq_rcmd_out_ext(&o, "compressed", "false");
    rmq_rcmd_out_ext(&o, "bodyCrc32", crc);
    ns->pending_opaque = o.opaque;
    rmq_conn_send(c, &o, r->body.data, (uint32_t)r->body.len);
}

static void
reg_connect(rmq_reg *r, struct rmq_reg_ns *ns, int64_t now_ms)
{
    rmq_conn *c;

    if (now_ms < ns->next_try_ms) {
        return;
    }
    ns->next_try_ms = now_ms + REG_RETRY_MS;
    c = rmq_conns_connect(r->conns, ns->addr);
    if (c == NULL) {
        rmq_log(RMQ_LOG_WARN, "reg.connect",
                "could not connect to name server %s", ns->addr);
        return;
    }
    c->user = r; /* marks the connection as ours */
    ns->conn_id = c->id;
}

void
rmq_reg_tick(rmq_reg *r, int64_t now_ms)
{
    uint64_t gen = atomic_load(&r->ctl->pos->topics_gen);
    bool     due = now_ms >= r->next_ms || gen != r->sent_gen;

    if (due) {
        rmq_buf_reset(&r->body);
        if (rmq_reg_topics_json(r->ctl, true, &r->body) != 0) {
            return;
        }
    }
    for (int i = 0; i < r->nns; i++) {
        struct rmq_reg_ns *ns = &r->ns[i];
        rmq_conn *c = ns->conn_id ? rmq_conns_get(r->conns, ns->conn_id) : NULL;
        if (c == NULL) {
            ns->conn_id = 0;
            reg_connect(r, ns, now_ms);
            continue;
        }
        if (due && !c->connecting) {
            reg_send(r, ns, c, RMQ_REQ_REGISTER_BROKER);
        }
    }
    if (due) {
        r->sent_gen = gen;
        r->next_ms = now_ms + r->cfg->broker.register_period_ms;
    }
}

void
rmq_reg_poke(rmq_reg *r)
{
    r->next_ms = 0;
}

bool
rmq_reg_on_response(rmq_reg *r, rmq_conn *c, const rmq_rcmd *cmd)
{
    for (int i = 0; i < r->nns; i++) {
        struct rmq_reg_ns *ns = &r->ns[i];
        if (ns->conn_id != c->id) {
            continue;
        }
        if (cmd->opaque == ns->pending_opaque) {
            bool ok = cmd->code == RMQ_RESP_SUCCESS;
            if (ok != ns->ok || !ok) {
                rmq_log(ok ? RMQ_LOG_INFO : RMQ_LOG_WARN, "reg.result",
                        "registration with %s: %s%s%s", ns->addr,
                        ok ? "ok" : "failed", cmd->remark ? ": " : "",
                        cmd->remark ? cmd->remark : "");
            }
            ns->ok = ok;
        }
        return true;
    }
    return false;
}

void
rmq_reg_on_connect(rmq_reg *r, rmq_conn *c, bool ok)
{
    for (int i = 0; i < r->nns; i++) {
        if (r->ns[i].conn_id == c->id && ok) {
            r->next_ms = 0; /* register on the fresh connection now */
            r->sent_gen = UINT64_MAX;
        }
    }
}

void
rmq_reg_on_close(rmq_reg *r, rmq_conn *c)
{
    for (int i = 0; i < r->nns; i++) {
        if (r->ns[i].conn_id == c->id) {
            if (r->ns[i].ok) {
                rmq_log(RMQ_LOG_WARN, "reg.lost",
                        "lost the connection to name server %s", r->ns[i].addr);
            }
            r->ns[i].conn_id = 0;
            r->ns[i].ok = false;
        }
    }
}

void
rmq_reg_unregister(rmq_reg *r)
{
    for (int i = 0; i < r->nns; i++) {
        rmq_conn *c =
            r->ns[i].conn_id ? rmq_conns_get(r->conns, r->ns[i].conn_id) : NULL;
        if (c != NULL && !c->connecting) {
            reg_send(r, &r->ns[i], c, RMQ_REQ_UNREGISTER_BROKER);
        }
    }
}

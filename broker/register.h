/*
 * register.h - the broker's registration with its name servers (spec
 * remoting 4.1): REGISTER_BROKER to every address in namesrvAddr at start,
 * whenever the topic table changes, and every registerNameServerPeriod;
 * UNREGISTER_BROKER at shutdown.  Runs inside the acceptor's loop over
 * its connection set (outbound connections), never blocking it.
 */
#ifndef RMQ_BROKER_REGISTER_H
#define RMQ_BROKER_REGISTER_H

#include "common/buf.h"
#include "common/config.h"
#include "net/conn.h"
#include "shm/control.h"

#include <stdbool.h>
#include <stdint.h>

#define RMQ_REG_NAMESRV_MAX 8

struct rmq_reg_ns {
    char     addr[128];
    uint64_t conn_id;     /* 0 = not connected */
    int64_t  next_try_ms; /* next connect attempt */
    int32_t  pending_opaque;
    bool     ok; /* last registration answered 0 */
};

typedef struct rmq_reg {
    const rmq_config *cfg;
    const rmq_ctl    *ctl;
    rmq_conns        *conns;
    char              broker_addr[128]; /* brokerIP1:listenPort */
    char              ha_addr[128];
    struct rmq_reg_ns ns[RMQ_REG_NAMESRV_MAX];
    int               nns;
    uint64_t          sent_gen; /* topics_gen of the last registration */
    int64_t           next_ms;  /* next periodic registration */
    int32_t           next_opaque;
    rmq_buf           body;
} rmq_reg;

int  rmq_reg_init(rmq_reg *r, const rmq_config *cfg, const rmq_ctl *ctl,
                  rmq_conns *conns, const char *broker_ip);
void rmq_reg_fini(rmq_reg *r);
/* Called every loop pass: (re)connect, register when due or changed. */
void rmq_reg_tick(rmq_reg *r, int64_t now_ms);
/* A response arrived on conn; returns true when it was ours. */
bool rmq_reg_on_response(rmq_reg *r, rmq_conn *c, const rmq_rcmd *cmd);
/* An outbound connection finished connecting / closed. */
void rmq_reg_on_connect(rmq_reg *r, rmq_conn *c, bool ok);
void rmq_reg_on_close(rmq_reg *r, rmq_conn *c);
/* Best effort UNREGISTER_BROKER to every connected name server. */
void rmq_reg_unregister(rmq_reg *r);
/* Ask for a registration at the next tick (topic created, ...). */
void rmq_reg_poke(rmq_reg *r);

/* The TopicConfigSerializeWrapper JSON of the live topics (also 21). */
int rmq_reg_topics_json(const rmq_ctl *ctl, bool wrapped, rmq_buf *out);

#endif

/*
 * catalog.c - field layouts of every message in catalog.h and the typed
 * encode/decode pair of each.  Any process.
 */
#include "proto/catalog.h"

#include "common/util.h"

#include <stddef.h>

#define F(type, field, kind)                                                  \
    {#field, kind, offsetof(type, field), sizeof(((type *)0)->field), 0, 0,   \
     NULL}
#define FBIN(type, field, maxlen)                                             \
    {#field, RMQ_MF_BIN, offsetof(type, field), sizeof(rmq_bytes), maxlen, 0, \
     NULL}
#define FARR(type, field, count, elemdesc)                                    \
    {#field, RMQ_MF_ARRAY, offsetof(type, field),                             \
     sizeof(((type *)0)->field[0]), RMQ_ARRAY_LEN(((type *)0)->field),        \
     offsetof(type, count), &elemdesc}
#define DESC(id, name, type, fields)                                          \
    {id, name, sizeof(type), RMQ_ARRAY_LEN(fields), fields}

/* One typed encode/decode pair per message, over the generic codec. */
#define RMQ_MSG_DEFINE(fn, type)                                              \
    int rmq_msg_##fn##_encode(const type *m, rmq_buf *out)                    \
    {                                                                         \
        return rmq_msg_encode(&rmq_mdesc_##fn, m, out);                       \
    }                                                                         \
    int rmq_msg_##fn##_decode(const void *data, size_t len, type *m)          \
    {                                                                         \
        return rmq_msg_decode(&rmq_mdesc_##fn, data, len, m);                 \
    }

static const rmq_mfield ctl_request_f[] = {
    F(rmq_msg_ctl_request, cmd, RMQ_MF_U32),
    F(rmq_msg_ctl_request, arg, RMQ_MF_STR),
};
const rmq_mdesc rmq_mdesc_ctl_request =
    DESC(RMQ_MSG_CTL_REQUEST, "ctl_request", rmq_msg_ctl_request,
         ctl_request_f);
RMQ_MSG_DEFINE(ctl_request, rmq_msg_ctl_request)

static const rmq_mfield ctl_result_f[] = {
    F(rmq_msg_ctl_result, status, RMQ_MF_I32),
    F(rmq_msg_ctl_result, text, RMQ_MF_STR),
};
const rmq_mdesc rmq_mdesc_ctl_result =
    DESC(RMQ_MSG_CTL_RESULT, "ctl_result", rmq_msg_ctl_result, ctl_result_f);
RMQ_MSG_DEFINE(ctl_result, rmq_msg_ctl_result)

static const rmq_mfield ctl_counter_f[] = {
    F(rmq_ctl_counter, name, RMQ_MF_STR),
    F(rmq_ctl_counter, value, RMQ_MF_U64),
};
static const rmq_mdesc ctl_counter_d =
    DESC(0, "ctl_counter", rmq_ctl_counter, ctl_counter_f);

static const rmq_mfield ctl_actor_info_f[] = {
    F(rmq_ctl_actor_info, name, RMQ_MF_STR),
    F(rmq_ctl_actor_info, pid, RMQ_MF_I32),
    F(rmq_ctl_actor_info, state, RMQ_MF_STR),
    F(rmq_ctl_actor_info, restarts, RMQ_MF_U32),
    F(rmq_ctl_actor_info, last_exit, RMQ_MF_I32),
    F(rmq_ctl_actor_info, exits, RMQ_MF_U32),
    F(rmq_ctl_actor_info, start_ms, RMQ_MF_I64),
    F(rmq_ctl_actor_info, heartbeat_ms, RMQ_MF_I64),
    FARR(rmq_ctl_actor_info, counters, ncounters, ctl_counter_d),
};
static const rmq_mdesc ctl_actor_info_d =
    DESC(0, "ctl_actor_info", rmq_ctl_actor_info, ctl_actor_info_f);

static const rmq_mfield ctl_actors_f[] = {
    F(rmq_msg_ctl_actors, now_ms, RMQ_MF_I64),
    FARR(rmq_msg_ctl_actors, actors, n, ctl_actor_info_d),
};
const rmq_mdesc rmq_mdesc_ctl_actors =
    DESC(RMQ_MSG_CTL_ACTORS, "ctl_actors", rmq_msg_ctl_actors, ctl_actors_f);
RMQ_MSG_DEFINE(ctl_actors, rmq_msg_ctl_actors)

static const rmq_mfield ctl_status_f[] = {
    F(rmq_msg_ctl_status, pid, RMQ_MF_I32),
    F(rmq_msg_ctl_status, generation, RMQ_MF_U64),
    F(rmq_msg_ctl_status, state, RMQ_MF_STR),
    F(rmq_msg_ctl_status, uptime_ms, RMQ_MF_I64),
    F(rmq_msg_ctl_status, ready_after_ms, RMQ_MF_I64),
    F(rmq_msg_ctl_status, actors_total, RMQ_MF_U32),
    F(rmq_msg_ctl_status, actors_ready, RMQ_MF_U32),
    F(rmq_msg_ctl_status, reloads, RMQ_MF_U64),
    F(rmq_msg_ctl_status, config_source, RMQ_MF_STR),
    F(rmq_msg_ctl_status, version, RMQ_MF_STR),
    F(rmq_msg_ctl_status, run_dir, RMQ_MF_STR),
};
const rmq_mdesc rmq_mdesc_ctl_status =
    DESC(RMQ_MSG_CTL_STATUS, "ctl_status", rmq_msg_ctl_status, ctl_status_f);
RMQ_MSG_DEFINE(ctl_status, rmq_msg_ctl_status)

const rmq_mdesc *const rmq_msg_catalog[] = {
    &rmq_mdesc_ctl_request,
    &rmq_mdesc_ctl_result,
    &rmq_mdesc_ctl_actors,
    &rmq_mdesc_ctl_status,
};
const unsigned rmq_msg_catalog_len = RMQ_ARRAY_LEN(rmq_msg_catalog);

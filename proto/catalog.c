/*
 * catalog.c - field layouts of every message in catalog.h and the typed
 * encode/decode pair of each.  Any process.
 */
#include "proto/catalog.h"

#include "common/util.h"

#include <stddef.h>

#define F(type, field, kind)                                                   \
    {                                                                          \
#field, kind, offsetof(type, field), sizeof(((type *)0)->field), 0, 0, \
            NULL                                                               \
    }
#define FBIN(type, field, maxlen)                                              \
    {                                                                          \
#field, RMQ_MF_BIN, offsetof(type, field), sizeof(rmq_bytes), maxlen,  \
            0, NULL                                                            \
    }
#define FARR(type, field, count, elemdesc)                                     \
    {                                                                          \
#field, RMQ_MF_ARRAY, offsetof(type, field),                           \
            sizeof(((type *)0)->field[0]), RMQ_ARRAY_LEN(((type *)0)->field),  \
            offsetof(type, count), &elemdesc                                   \
    }
#define DESC(id, name, type, fields)                                           \
    {                                                                          \
        id, name, sizeof(type), RMQ_ARRAY_LEN(fields), fields                  \
    }

/* One typed encode/decode pair per message, over the generic codec. */
#define RMQ_MSG_DEFINE(fn, type)                                               \
    int rmq_msg_##fn##_encode(const type *m, rmq_buf *out)                     \
    {                                                                          \
        return rmq_msg_encode(&rmq_mdesc_##fn, m, out);                        \
    }                                                                          \
    int rmq_msg_##fn##_decode(const void *data, size_t len, type *m)           \
    {                                                                          \
        return rmq_msg_decode(&rmq_mdesc_##fn, data, len, m);                  \
    }

static const rmq_mfield ctl_request_f[] = {
    F(rmq_msg_ctl_request, cmd, RMQ_MF_U32),
    F(rmq_msg_ctl_request, arg, RMQ_MF_STR),
};
const rmq_mdesc rmq_mdesc_ctl_request = DESC(
    RMQ_MSG_CTL_REQUEST, "ctl_request", rmq_msg_ctl_request, ctl_request_f);
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

static const rmq_mfield put_desc_f[] = {
    F(rmq_put_desc, ring_off, RMQ_MF_U64),
    F(rmq_put_desc, len, RMQ_MF_U32),
    F(rmq_put_desc, topic_idx, RMQ_MF_U32),
    F(rmq_put_desc, queue_id, RMQ_MF_I32),
    F(rmq_put_desc, flags, RMQ_MF_U32),
};
static const rmq_mdesc put_desc_d =
    DESC(0, "put_desc", rmq_put_desc, put_desc_f);

static const rmq_mfield put_batch_f[] = {
    F(rmq_msg_put_batch, owner, RMQ_MF_U32),
    F(rmq_msg_put_batch, writer_pid, RMQ_MF_I32),
    F(rmq_msg_put_batch, seq, RMQ_MF_U64),
    F(rmq_msg_put_batch, ring_size, RMQ_MF_U64),
    FARR(rmq_msg_put_batch, d, n, put_desc_d),
};
const rmq_mdesc rmq_mdesc_put_batch =
    DESC(RMQ_MSG_PUT_BATCH, "put_batch", rmq_msg_put_batch, put_batch_f);
RMQ_MSG_DEFINE(put_batch, rmq_msg_put_batch)

static const rmq_mfield put_res_f[] = {
    F(rmq_put_res, status, RMQ_MF_I32),
    F(rmq_put_res, phys_offset, RMQ_MF_I64),
    F(rmq_put_res, queue_offset, RMQ_MF_I64),
};
static const rmq_mdesc put_res_d = DESC(0, "put_res", rmq_put_res, put_res_f);

static const rmq_mfield put_result_f[] = {
    F(rmq_msg_put_result, seq, RMQ_MF_U64),
    F(rmq_msg_put_result, writer_pid, RMQ_MF_I32),
    FARR(rmq_msg_put_result, r, n, put_res_d),
};
const rmq_mdesc rmq_mdesc_put_result =
    DESC(RMQ_MSG_PUT_RESULT, "put_result", rmq_msg_put_result, put_result_f);
RMQ_MSG_DEFINE(put_result, rmq_msg_put_result)

static const rmq_mfield topic_update_f[] = {
    F(rmq_msg_topic_update, owner, RMQ_MF_U32),
    F(rmq_msg_topic_update, seq, RMQ_MF_U64),
    F(rmq_msg_topic_update, name, RMQ_MF_STR),
    F(rmq_msg_topic_update, read_queues, RMQ_MF_I32),
    F(rmq_msg_topic_update, write_queues, RMQ_MF_I32),
    F(rmq_msg_topic_update, perm, RMQ_MF_I32),
    F(rmq_msg_topic_update, sysflag, RMQ_MF_I32),
    F(rmq_msg_topic_update, flags, RMQ_MF_U32),
    F(rmq_msg_topic_update, remove, RMQ_MF_BOOL),
};
const rmq_mdesc rmq_mdesc_topic_update = DESC(
    RMQ_MSG_TOPIC_UPDATE, "topic_update", rmq_msg_topic_update, topic_update_f);
RMQ_MSG_DEFINE(topic_update, rmq_msg_topic_update)

static const rmq_mfield topic_result_f[] = {
    F(rmq_msg_topic_result, seq, RMQ_MF_U64),
    F(rmq_msg_topic_result, status, RMQ_MF_I32),
    F(rmq_msg_topic_result, topic_idx, RMQ_MF_I32),
};
const rmq_mdesc rmq_mdesc_topic_result = DESC(
    RMQ_MSG_TOPIC_RESULT, "topic_result", rmq_msg_topic_result, topic_result_f);
RMQ_MSG_DEFINE(topic_result, rmq_msg_topic_result)

static const rmq_mfield position_f[] = {
    F(rmq_msg_position, kind, RMQ_MF_U32),
    F(rmq_msg_position, offset, RMQ_MF_I64),
};
const rmq_mdesc rmq_mdesc_position =
    DESC(RMQ_MSG_POSITION, "position", rmq_msg_position, position_f);
RMQ_MSG_DEFINE(position, rmq_msg_position)

static const rmq_mfield flush_req_f[] = {
    F(rmq_msg_flush_req, offset, RMQ_MF_I64),
};
const rmq_mdesc rmq_mdesc_flush_req =
    DESC(RMQ_MSG_FLUSH_REQ, "flush_req", rmq_msg_flush_req, flush_req_f);
RMQ_MSG_DEFINE(flush_req, rmq_msg_flush_req)

static const rmq_mfield queue_grew_e_f[] = {
    F(rmq_queue_grew, topic_idx, RMQ_MF_U32),
    F(rmq_queue_grew, queue_id, RMQ_MF_I32),
    F(rmq_queue_grew, max_offset, RMQ_MF_I64),
};
static const rmq_mdesc queue_grew_e_d =
    DESC(0, "queue_grew_entry", rmq_queue_grew, queue_grew_e_f);

static const rmq_mfield queue_grew_f[] = {
    FARR(rmq_msg_queue_grew, q, n, queue_grew_e_d),
};
const rmq_mdesc rmq_mdesc_queue_grew =
    DESC(RMQ_MSG_QUEUE_GREW, "queue_grew", rmq_msg_queue_grew, queue_grew_f);
RMQ_MSG_DEFINE(queue_grew, rmq_msg_queue_grew)

#define FU64S(type, field, count)                                              \
    {                                                                          \
#field, RMQ_MF_U64S, offsetof(type, field), sizeof(uint64_t),          \
            RMQ_ARRAY_LEN(((type *)0)->field), offsetof(type, count), NULL     \
    }

static const rmq_mfield fwd_ext_f[] = {
    F(rmq_fwd_ext, key, RMQ_MF_STR),
    FBIN(rmq_fwd_ext, value, RMQ_MSG_MAX_BYTES),
};
static const rmq_mdesc fwd_ext_d = DESC(0, "fwd_ext", rmq_fwd_ext, fwd_ext_f);

static const rmq_mfield fwd_request_f[] = {
    F(rmq_msg_fwd_request, req_id, RMQ_MF_U64),
    F(rmq_msg_fwd_request, conn_id, RMQ_MF_U64),
    F(rmq_msg_fwd_request, client_addr, RMQ_MF_STR),
    F(rmq_msg_fwd_request, code, RMQ_MF_I32),
    F(rmq_msg_fwd_request, version, RMQ_MF_I32),
    F(rmq_msg_fwd_request, language, RMQ_MF_I32),
    F(rmq_msg_fwd_request, flag, RMQ_MF_U32),
    FARR(rmq_msg_fwd_request, ext, next, fwd_ext_d),
    FBIN(rmq_msg_fwd_request, body, RMQ_MSG_MAX_BYTES),
};
const rmq_mdesc rmq_mdesc_fwd_request = DESC(
    RMQ_MSG_FWD_REQUEST, "fwd_request", rmq_msg_fwd_request, fwd_request_f);
RMQ_MSG_DEFINE(fwd_request, rmq_msg_fwd_request)

static const rmq_mfield fwd_response_f[] = {
    F(rmq_msg_fwd_response, req_id, RMQ_MF_U64),
    F(rmq_msg_fwd_response, conn_id, RMQ_MF_U64),
    F(rmq_msg_fwd_response, code, RMQ_MF_I32),
    F(rmq_msg_fwd_response, remark, RMQ_MF_STR),
    FARR(rmq_msg_fwd_response, ext, next, fwd_ext_d),
    FBIN(rmq_msg_fwd_response, body, RMQ_MSG_MAX_BYTES),
};
const rmq_mdesc rmq_mdesc_fwd_response = DESC(
    RMQ_MSG_FWD_RESPONSE, "fwd_response", rmq_msg_fwd_response, fwd_response_f);
RMQ_MSG_DEFINE(fwd_response, rmq_msg_fwd_response)

static const rmq_mfield client_notify_f[] = {
    F(rmq_msg_client_notify, code, RMQ_MF_I32),
    FU64S(rmq_msg_client_notify, conns, nconns),
    FARR(rmq_msg_client_notify, ext, next, fwd_ext_d),
};
const rmq_mdesc rmq_mdesc_client_notify =
    DESC(RMQ_MSG_CLIENT_NOTIFY, "client_notify", rmq_msg_client_notify,
         client_notify_f);
RMQ_MSG_DEFINE(client_notify, rmq_msg_client_notify)

static const rmq_mfield conn_closed_f[] = {
    FU64S(rmq_msg_conn_closed, conns, n),
};
const rmq_mdesc rmq_mdesc_conn_closed = DESC(
    RMQ_MSG_CONN_CLOSED, "conn_closed", rmq_msg_conn_closed, conn_closed_f);
RMQ_MSG_DEFINE(conn_closed, rmq_msg_conn_closed)

static const rmq_mfield lp_hold_f[] = {
    F(rmq_msg_lp_hold, hold_id, RMQ_MF_U64),
    F(rmq_msg_lp_hold, topic_idx, RMQ_MF_U32),
    F(rmq_msg_lp_hold, queue_id, RMQ_MF_I32),
    F(rmq_msg_lp_hold, offset, RMQ_MF_I64),
    F(rmq_msg_lp_hold, deadline_ms, RMQ_MF_I64),
};
const rmq_mdesc rmq_mdesc_lp_hold =
    DESC(RMQ_MSG_LP_HOLD, "lp_hold", rmq_msg_lp_hold, lp_hold_f);
RMQ_MSG_DEFINE(lp_hold, rmq_msg_lp_hold)

static const rmq_mfield lp_wake_f[] = {
    FU64S(rmq_msg_lp_wake, ids, n),
};
const rmq_mdesc rmq_mdesc_lp_wake =
    DESC(RMQ_MSG_LP_WAKE, "lp_wake", rmq_msg_lp_wake, lp_wake_f);
RMQ_MSG_DEFINE(lp_wake, rmq_msg_lp_wake)

const rmq_mdesc *const rmq_msg_catalog[] = {
    &rmq_mdesc_ctl_request,  &rmq_mdesc_ctl_result,    &rmq_mdesc_ctl_actors,
    &rmq_mdesc_ctl_status,   &rmq_mdesc_put_batch,     &rmq_mdesc_put_result,
    &rmq_mdesc_topic_update, &rmq_mdesc_topic_result,  &rmq_mdesc_position,
    &rmq_mdesc_flush_req,    &rmq_mdesc_queue_grew,    &rmq_mdesc_fwd_request,
    &rmq_mdesc_fwd_response, &rmq_mdesc_client_notify, &rmq_mdesc_conn_closed,
    &rmq_mdesc_lp_hold,      &rmq_mdesc_lp_wake,
};
const unsigned rmq_msg_catalog_len = RMQ_ARRAY_LEN(rmq_msg_catalog);

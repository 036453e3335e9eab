/*
 * cmd_consume.c - rmqctl consume -t TOPIC [-g GROUP] [--from-beginning]
 * [-n COUNT] [--tag EXPR] [--timeout SEC]: print messages of a topic.
 *
 * Built on librmq's pull consumer rather than the push consumer: a tool
 * that must stop after COUNT messages or after SEC seconds of silence is
 * simplest as one loop that owns every read queue and knows exactly which
 * offsets it printed.  A push consumer would rebalance, prefetch past
 * COUNT and commit on its own schedule.  No heartbeat is sent, so the
 * tool never joins (or disturbs) a group's rebalancing.
 *
 * Where each queue starts:
 *   --from-beginning   offset 0 (a trimmed queue moves on to its minimum);
 *   otherwise          the group's committed offset as QUERY_CONSUMER_OFFSET
 *                      (14) answers it - for a group that never committed,
 *                      the broker answers 0 for a queue whose first message
 *                      is still stored - and the end of the queue (only new
 *                      messages) when the broker has no offset (22).
 * The group is -g GROUP, or TOOLS_CONSUMER (the group mqadmin's tools use,
 * present on every broker), which is never committed.  With -g the
 * offsets after the printed messages are committed (15) at the end,
 * also after SIGINT/SIGTERM, so a later `consumer progress -g` shows them.
 *
 * It stops after COUNT messages, or when nothing arrived for --timeout
 * seconds (default 5), or on SIGINT/SIGTERM.  Exit 0 when COUNT was not
 * given or was reached; otherwise 1 with "received N of COUNT".
 *
 * Output: each message as a block (cli/msgview.h); with --json one
 * compact JSON object per line per message (JSON lines, not one
 * document), flushed as it arrives.
 */
#include "cli/msgview.h"
#include "cli/remote.h"

#include "common/util.h"
#include "proto/codes.h"
#include "rmq/client.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONSUME_DEFAULT_GROUP "TOOLS_CONSUMER"
#define CONSUME_BATCH 32
#define CONSUME_IDLE_PAUSE_MS 100

static volatile sig_atomic_t consume_stop;

struct consume_opts {
    const char *topic;
    const char *group; /* NULL: CONSUME_DEFAULT_GROUP, never committed */
    const char *tag;   /* NULL: every message */
    bool        from_beginning;
    int32_t     count;     /* < 0: no limit */
    int32_t     timeout_s; /* idle time before stopping */
};

struct consume_queue {
    rmq_queue q;
    int64_t   start; /* where reading began */
    int64_t   next;  /* first offset not yet printed or skipped */
};

struct consume {
    rmqctl               *c;
    struct consume_opts   o;
    rmq_pull_consumer    *pc;
    struct consume_queue *qs;
    size_t                n;
    long                  printed;
};

static void
consume_on_signal(int sig)
{
    (void)sig;
    consume_stop = 1;
}

/* ---- options ------------------------------------------------------------ */

static int
consume_opt(int ch, struct consume_opts *o)
{
    switch (ch) {
    case 't':
        o->topic = optarg;
        return 0;
    case 'g':
        o->group = optarg;
        return 0;
    case 'T':
        o->tag = optarg;
        return 0;
    case 'b':
        o->from_beginning = true;
        return 0;
    case 'n':
        return rmqctl_int_arg("consume", "-n", optarg, &o->count);
    case 'w':
        return rmqctl_int_arg("consume", "--timeout", optarg, &o->timeout_s);
    default:
        return -1;
    }
}

static int
consume_parse(rmqctl *c, struct consume_opts *o)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},
        {"tag", required_argument, NULL, 'T'},
        {"from-beginning", no_argument, NULL, 'b'},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    int ch, rc;

    *o = (struct consume_opts){.count = -1, .timeout_s = 5};
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(c->argc + 1, c->argv - 1, ":t:g:n:", longopts,
                             NULL)) != -1) {
        if ((rc = consume_opt(ch, o)) != 0) {
            return rc < 0 ? rmqctl_bad_option("consume", ch, c->argv - 1) : rc;
        }
    }
    if (optind != c->argc + 1) {
        return rmqctl_fail("consume: unexpected argument \"%s\"",
                           c->argv[optind - 1]);
    }
    if (o->topic == NULL || o->topic[0] == '\0') {
        return rmqctl_fail("consume: give the topic with -t TOPIC");
    }
    if (o->count == 0 || o->count < -1 || o->timeout_s < 0) {
        return rmqctl_fail("consume: -n wants a count >= 1 and --timeout "
                           "seconds >= 0");
    }
    return 0;
}

/* ---- setup -------------------------------------------------------------- */

/* Start offset of one queue (see the top of the file). */
static int
consume_start_offset(struct consume *st, struct consume_queue *cq, char *why)
{
    rmq_error err = {0};

    if (st->o.from_beginning) {
        cq->start = 0;
        return 0;
    }
    if (rmq_pull_consumer_query_offset(st->pc, &cq->q, &cq->start, &err) == 0) {
        return 0;
    }
    if ((err.code != RMQ_CLIENT_ERR_BROKER ||
         err.response_code != RMQ_RESP_QUERY_NOT_FOUND) ||
        rmq_pull_consumer_max_offset(st->pc, &cq->q, &cq->start, &err) != 0) {
        snprintf(why, RMQCTL_WHY_MAX, "%s", err.message);
        return -1;
    }
    return 0;
}

static int
consume_queues(struct consume *st, char *why)
{
    rmq_queue *qs = NULL;
    size_t     n = 0;
    rmq_error  err = {0};

    if (rmq_pull_consumer_fetch_queues(st->pc, st->o.topic, &qs, &n, &err) !=
        0) {
        snprintf(why, RMQCTL_WHY_MAX, "%s", err.message);
        return -1;
    }
    if (n == 0) {
        rmq_queues_free(qs);
        snprintf(why, RMQCTL_WHY_MAX,
                 "topic \"%.200s\" has no readable "
                 "queues (make it readable: rmqctl topic create -t %.200s "
                 "-p 6)",
                 st->o.topic, st->o.topic);
        return -1;
    }
    st->qs = calloc(n, sizeof(*st->qs));
    for (size_t i = 0; st->qs != NULL && i < n; i++) {
        st->qs[i].q = qs[i];
    }
    rmq_queues_free(qs);
    if (st->qs == NULL) {
        snprintf(why, RMQCTL_WHY_MAX, "out of memory");
        return -1;
    }
    st->n = n;
    for (size_t i = 0; i < n; i++) {
        if (consume_start_offset(st, &st->qs[i], why) != 0) {
            return -1;
        }
        st->qs[i].next = st->qs[i].start;
    }
    return 0;
}

static int
consume_open(struct consume *st, const char *ns, char *why)
{
    rmq_pull_consumer_opts opts;
    rmq_error              err = {0};

    rmq_pull_consumer_opts_init(&opts);
    opts.namesrv_addr = ns;
    opts.group = st->o.group ? st->o.group : CONSUME_DEFAULT_GROUP;
    opts.log_fn = rmqctl_quiet_log;
    opts.log_level = RMQ_CLIENT_LOG_ERROR;
    if (rmq_pull_consumer_new(&opts, &st->pc, &err) != 0 ||
        rmq_pull_consumer_start(st->pc, &err) != 0) {
        snprintf(why, RMQCTL_WHY_MAX, "%s", err.message);
        return -1;
    }
    return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static void
consume_view(const rmq_message_ext *e, rmqctl_msg *m)
{
    size_t n = rmq_message_ext_property_count(e);

    memset(m, 0, sizeof(*m));
    m->topic = rmq_message_ext_get_topic(e);
    m->broker_name = rmq_message_ext_get_broker_name(e);
    m->queue_id = rmq_message_ext_get_queue_id(e);
    m->queue_offset = rmq_message_ext_get_queue_offset(e);
    m->commitlog_offset = rmq_message_ext_get_commitlog_offset(e);
    m->msg_id = rmq_message_ext_get_msg_id(e);
    m->offset_msg_id = rmq_message_ext_get_offset_msg_id(e);
    m->tags = rmq_message_ext_get_tags(e);
    m->keys = rmq_message_ext_get_keys(e);
    for (size_t i = 0; i < n && m->props.n < RMQ_PROPS_MAX; i++) {
        rmq_prop *p = &m->props.p[m->props.n];
        if (rmq_message_ext_property_at(e, i, &p->key, &p->value) == 0) {
            p->key_len = (uint32_t)strlen(p->key);
            p->value_len = (uint32_t)strlen(p->value);
            m->props.n++;
        }
    }
    m->reconsume_times = rmq_message_ext_get_reconsume_times(e);
    m->flag = rmq_message_ext_get_flag(e);
    m->sysflag = rmq_message_ext_get_sys_flag(e);
    m->born_ms = rmq_message_ext_get_born_timestamp(e);
    m->born_host = rmq_message_ext_get_born_host(e);
    m->store_ms = rmq_message_ext_get_store_timestamp(e);
    m->store_host = rmq_message_ext_get_store_host(e);
    m->body = rmq_message_ext_get_body(e, &m->body_len);
}

static void
consume_print(struct consume *st, const rmq_message_ext *e)
{
    rmqctl_msg m;

    consume_view(e, &m);
    if (st->c->json) {
        rmqctl_print_json(rmqctl_msg_json(&m));
    } else {
        rmqctl_msg_print(&m, stdout);
    }
    fflush(stdout);
    st->printed++;
}

static bool
consume_done(const struct consume *st)
{
    return consume_stop || (st->o.count > 0 && st->printed >= st->o.count);
}

/* Print what res holds; move the queue past what was printed or skipped. */
static void
consume_found(struct consume *st, struct consume_queue *cq,
              const rmq_pull_result *res)
{
    for (size_t i = 0; i < res->nmsgs; i++) {
        if (consume_done(st)) {
            return;
        }
        consume_print(st, res->msgs[i]);
        cq->next = rmq_message_ext_get_queue_offset(res->msgs[i]) + 1;
    }
    cq->next = res->next_begin_offset;
}

/*
 * One pull from one queue.  *got: messages were printed; *moved: the
 * queue advanced without any (filtered out, or offset corrected), so
 * pulling again at once makes sense.
 */
static int
consume_pull(struct consume *st, struct consume_queue *cq, bool *got,
             bool *moved, char *why)
{
    long             left = st->o.count > 0 ? st->o.count - st->printed : 0;
    rmq_pull_request req = {.queue = cq->q,
                            .tag_expr = st->o.tag,
                            .offset = cq->next,
                            .max_msgs = left > 0 && left < CONSUME_BATCH
                                            ? (int)left
                                            : CONSUME_BATCH};
    rmq_pull_result *res = NULL;
    rmq_error        err = {0};

    if (rmq_pull_consumer_pull(st->pc, &req, &res, &err) != 0) {
        snprintf(why, RMQCTL_WHY_MAX, "%s", err.message);
        return -1;
    }
    if (res->status == RMQ_PULL_FOUND && res->nmsgs > 0) {
        consume_found(st, cq, res);
        *got = true;
    } else if (res->status != RMQ_PULL_NO_NEW_MSG &&
               res->next_begin_offset != cq->next) {
        cq->next = res->next_begin_offset;
        *moved = true;
    }
    rmq_pull_result_free(res);
    return 0;
}

static int
consume_loop(struct consume *st, char *why)
{
    int64_t         idle_since = rmq_mono_ms();
    struct timespec pause = {0, CONSUME_IDLE_PAUSE_MS * 1000000L};

    while (!consume_done(st)) {
        bool got = false, moved = false;
        for (size_t i = 0; i < st->n && !consume_done(st); i++) {
            if (consume_pull(st, &st->qs[i], &got, &moved, why) != 0) {
                return -1;
            }
        }
        if (got) {
            idle_since = rmq_mono_ms();
        } else if (!moved) {
            if (rmq_mono_ms() - idle_since >= (int64_t)st->o.timeout_s * 1000) {
                return 0;
            }
            nanosleep(&pause, NULL);
        }
    }
    return 0;
}

/* With -g: commit where each queue got to (nothing moved: nothing sent). */
static int
consume_commit(struct consume *st, char *why)
{
    rmq_error err = {0};

    if (st->o.group == NULL) {
        return 0;
    }
    for (size_t i = 0; i < st->n; i++) {
        struct consume_queue *cq = &st->qs[i];
        if (cq->next != cq->start && rmq_pull_consumer_commit_offset(
                                         st->pc, &cq->q, cq->next, &err) != 0) {
            snprintf(why, RMQCTL_WHY_MAX, "%s", err.message);
            return -1;
        }
    }
    return 0;
}

static void
consume_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = consume_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int
rmqctl_cmd_consume(rmqctl *c)
{
    struct consume st = {.c = c};
    char           ns[RMQ_CONFIG_STR_MAX * 4], why[RMQCTL_WHY_MAX];
    json_t        *route = NULL;
    int            rc;

    if ((rc = consume_parse(c, &st.o)) != 0) {
        return rc;
    }
    if (rmqctl_namesrv_list(c, ns, sizeof(ns), why) != 0 ||
        rmqctl_route_fetch(c, st.o.topic, &route, why) != 0) {
        return rmqctl_fail("cannot consume: %s", why);
    }
    json_decref(route);
    consume_signals();
    if (consume_open(&st, ns, why) != 0 || consume_queues(&st, why) != 0) {
        rc = rmqctl_fail("could not consume topic \"%s\": %s", st.o.topic, why);
    } else {
        /* commit what was printed even when the loop failed half way */
        int loop = consume_loop(&st, why);
        if (loop != 0) {
            rc = rmqctl_fail("could not consume topic \"%s\": %s", st.o.topic,
                             why);
        }
        if (consume_commit(&st, why) != 0 && rc == 0) {
            rc = rmqctl_fail("could not commit the offsets of group \"%s\": "
                             "%s",
                             st.o.group, why);
        }
    }
    rmq_pull_consumer_destroy(st.pc);
    free(st.qs);
    if (rc == 0 && st.o.count > 0 && st.printed < st.o.count) {
        rc = rmqctl_fail("received %ld of %d messages (nothing more arrived "
                         "within %d s)",
                         st.printed, st.o.count, st.o.timeout_s);
    }
    return rc;
}

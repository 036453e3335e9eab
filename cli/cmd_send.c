/*
 * cmd_send.c - rmqctl send -t TOPIC [-k KEYS] [--tag TAG] [-p KEY=VALUE]...
 * [--delay LEVEL] BODY|-: one message through librmq's producer (a sync
 * send: the broker's answer is printed).  BODY "-" reads the body from
 * stdin, bytes as they are.
 *
 * The topic must exist: the name server is asked for its route first
 * (105), because librmq, like the Java client, would otherwise send
 * through TBW102 and let the broker create the topic on the fly.
 *
 * Output: status, msgId (the UNIQ_KEY librmq gives every message),
 * offsetMsgId (store host + commit-log offset: what `msg get` takes),
 * queue and queue offset; --json: {"status","msgId","offsetMsgId",
 * "topic","brokerName","queueId","queueOffset"}.
 */
#include "cli/remote.h"

#include "common/buf.h"
#include "rmq/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEND_PROPS_MAX 32
#define SEND_STDIN_MAX (64u * 1024 * 1024)
#define SEND_GROUP "rmqctl"

struct send_opts {
    const char *topic;
    const char *tag;
    const char *body;
    const char *props[SEND_PROPS_MAX]; /* "key=value" */
    int         nprops;
    int32_t     delay;
    rmq_buf     keys; /* every -k, space separated */
};

static int
send_opt(int ch, struct send_opts *o)
{
    switch (ch) {
    case 't':
        o->topic = optarg;
        return 0;
    case 'g':
        o->tag = optarg;
        return 0;
    case 'd':
        return rmqctl_int_arg("send", "--delay", optarg, &o->delay);
    case 'k':
        if (o->keys.len > 0) {
            rmq_buf_append_str(&o->keys, " ");
        }
        rmq_buf_append_str(&o->keys, optarg);
        return 0;
    case 'p':
        if (o->nprops == SEND_PROPS_MAX || strchr(optarg, '=') == NULL ||
            optarg[0] == '=') {
            return rmqctl_fail("send: -p wants KEY=VALUE (at most %d), not "
                               "\"%s\"",
                               SEND_PROPS_MAX, optarg);
        }
        o->props[o->nprops++] = optarg;
        return 0;
    default:
        return -1;
    }
}

static int
send_parse(rmqctl *c, struct send_opts *o)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"keys", required_argument, NULL, 'k'},
        {"tag", required_argument, NULL, 'g'},
        {"property", required_argument, NULL, 'p'},
        {"delay", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    int ch, rc;

    optind = 0;
    opterr = 0;
    /* argv[0] is the command word "send" itself */
    while ((ch = getopt_long(c->argc + 1, c->argv - 1, ":t:k:p:", longopts,
                             NULL)) != -1) {
        if ((rc = send_opt(ch, o)) != 0) {
            return rc < 0 ? rmqctl_bad_option("send", ch, c->argv - 1) : rc;
        }
    }
    if (o->topic == NULL || o->topic[0] == '\0') {
        return rmqctl_fail("send: give the topic with -t TOPIC");
    }
    if (optind != c->argc) {
        return rmqctl_fail("send: give the body (or - for stdin) as the one "
                           "argument after the options");
    }
    o->body = c->argv[optind - 1];
    return 0;
}

static int
send_read_stdin(rmq_buf *out)
{
    for (;;) {
        uint8_t *p = rmq_buf_extend(out, 65536);
        ssize_t  n;
        if (p == NULL || out->len > SEND_STDIN_MAX) {
            return rmqctl_fail("send: the body on stdin is too big");
        }
        n = read(STDIN_FILENO, p, 65536);
        if (n < 0) {
            return rmqctl_fail("send: could not read the body from stdin");
        }
        out->len -= 65536 - (size_t)n;
        if (n == 0) {
            return 0;
        }
    }
}

/* The message of o with body; NULL after printing why. */
static rmq_message *
send_message(const struct send_opts *o, const rmq_buf *body)
{
    rmq_message *m = NULL;
    rmq_error    err = {0};
    int          rc;

    rc = rmq_message_new(o->topic, body->data, body->len, &m, &err);
    if (rc == 0 && o->tag != NULL) {
        rc = rmq_message_set_tags(m, o->tag, &err);
    }
    if (rc == 0 && o->keys.len > 0) {
        rc = rmq_message_set_keys(m, (const char *)o->keys.data, &err);
    }
    if (rc == 0 && o->delay != 0) {
        rc = rmq_message_set_delay_level(m, o->delay, &err);
    }
    for (int i = 0; rc == 0 && i < o->nprops; i++) {
        char *kv = strdup(o->props[i]);
        char *eq = kv ? strchr(kv, '=') : NULL;
        if (eq == NULL) {
            free(kv);
            rmq_message_free(m);
            rmqctl_fail("out of memory");
            return NULL;
        }
        *eq = '\0';
        rc = rmq_message_set_property(m, kv, eq + 1, &err);
        free(kv);
    }
    if (rc != 0) {
        rmq_message_free(m);
        rmqctl_fail("send: %s", err.message);
        return NULL;
    }
    return m;
}

static const char *
send_status_name(rmq_send_status s)
{
    switch (s) {
    case RMQ_SEND_OK:
        return "SEND_OK";
    case RMQ_SEND_FLUSH_DISK_TIMEOUT:
        return "FLUSH_DISK_TIMEOUT";
    case RMQ_SEND_FLUSH_SLAVE_TIMEOUT:
        return "FLUSH_SLAVE_TIMEOUT";
    case RMQ_SEND_SLAVE_NOT_AVAILABLE:
        return "SLAVE_NOT_AVAILABLE";
    }
    return "UNKNOWN";
}

/* Start a producer on the name servers, send m, stop. */
static int
send_produce(const char *ns, const rmq_message *m, rmq_send_result *res,
             rmq_error *err)
{
    rmq_producer_opts opts;
    rmq_producer     *p = NULL;
    int               rc;

    rmq_producer_opts_init(&opts);
    opts.namesrv_addr = ns;
    opts.group = SEND_GROUP;
    opts.log_fn = rmqctl_quiet_log;
    opts.log_level = RMQ_CLIENT_LOG_ERROR;
    rc = rmq_producer_new(&opts, &p, err);
    if (rc == 0) {
        rc = rmq_producer_start(p, err);
    }
    if (rc == 0) {
        rc = rmq_producer_send(p, m, res, err);
    }
    rmq_producer_destroy(p);
    return rc;
}

static int
send_print(rmqctl *c, const rmq_send_result *r)
{
    if (c->json) {
        return rmqctl_print_json(json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "status",
            send_status_name(r->status), "msgId", r->msg_id, "offsetMsgId",
            r->offset_msg_id, "topic", r->queue.topic, "brokerName",
            r->queue.broker_name, "queueId", r->queue.queue_id, "queueOffset",
            (json_int_t)r->queue_offset));
    }
    printf("%-12s %s\n", "status", send_status_name(r->status));
    printf("%-12s %s\n", "msgId", r->msg_id);
    printf("%-12s %s\n", "offsetMsgId", r->offset_msg_id);
    printf("%-12s %s:%d\n", "queue", r->queue.broker_name, r->queue.queue_id);
    printf("%-12s %lld\n", "queueOffset", (long long)r->queue_offset);
    return 0;
}

int
rmqctl_cmd_send(rmqctl *c)
{
    struct send_opts o = {0};
    char             ns[RMQ_CONFIG_STR_MAX * 4], why[RMQCTL_WHY_MAX];
    rmq_buf          body;
    rmq_message     *m = NULL;
    rmq_send_result  res;
    rmq_error        err = {0};
    json_t          *route = NULL;
    int              rc;

    rmq_buf_init(&body);
    rmq_buf_init(&o.keys);
    if ((rc = send_parse(c, &o)) != 0) {
        goto out;
    }
    rmq_buf_cstr(&o.keys);
    if (strcmp(o.body, "-") == 0) {
        rc = send_read_stdin(&body);
    } else {
        rmq_buf_append_str(&body, o.body);
    }
    if (rc == 0 && body.len == 0) {
        rc = rmqctl_fail("send: the message body is empty");
    }
    if (rc != 0 || (m = send_message(&o, &body)) == NULL) {
        rc = 1;
        goto out;
    }
    if (rmqctl_namesrv_list(c, ns, sizeof(ns), why) != 0 ||
        rmqctl_route_fetch(c, o.topic, &route, why) != 0) {
        rc = rmqctl_fail("cannot send: %s", why);
        goto out;
    }
    if (send_produce(ns, m, &res, &err) != 0) {
        rc = rmqctl_fail("could not send to topic \"%s\": %s", o.topic,
                         err.message);
        goto out;
    }
    rc = send_print(c, &res);
out:
    json_decref(route);
    rmq_message_free(m);
    rmq_buf_free(&body);
    rmq_buf_free(&o.keys);
    return rc;
}

/*
 * bench.h - rmq-bench, the benchmark client of rmq: shared types of its
 * files.  One process, one thread: an rmq_loop with many remoting
 * connections (net/conn.h), so what it measures is the broker, not client
 * threads.
 *
 *   bench.c          main: options, the run loop, progress lines
 *   bench_hist.c     latency histograms (log-linear buckets)
 *   bench_setup.c    blocking set-up over net/rpc.h: route, topic, offsets
 *   bench_produce.c  SEND_MESSAGE_V2 connections (sync or windowed)
 *   bench_consume.c  pipelined PULL_MESSAGE over every queue
 *   bench_procs.c    broker processes from the control segment, their RSS
 *   bench_report.c   the human summary and the --json object
 *   bench_librmq.c   --client librmq: the same produce run through librmq
 *
 * The broker is only read: requests over TCP, and a read-only attach of
 * its control segment for pids and configuration.
 */
#ifndef RMQ_BENCH_H
#define RMQ_BENCH_H

#include "net/conn.h"
#include "net/loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_BENCH_QUEUES_MAX 1024
#define RMQ_BENCH_ADDR_MAX 128
#define RMQ_BENCH_NAME_MAX 128
#define RMQ_BENCH_WINDOW_MAX 65536
#define RMQ_BENCH_CONNS_MAX 4096
#define RMQ_BENCH_ERRS_MAX 32
#define RMQ_BENCH_PROCS_MAX 32

/*
 * Bodies carry a stamp in their first RMQ_BENCH_STAMP_LEN bytes (when
 * they are that long): magic, this run's nonce and the monotonic send
 * time in microseconds (big-endian), so a consumer in the same process
 * can compute the end-to-end latency with microsecond resolution
 * (bornTimestamp is milliseconds) and skip messages of other runs.
 */
#define RMQ_BENCH_STAMP_MAGIC "RMQB"
#define RMQ_BENCH_STAMP_LEN 16

enum rmq_bench_mode {
    RMQ_BENCH_PRODUCE = 0,
    RMQ_BENCH_CONSUME,
    RMQ_BENCH_E2E,
    RMQ_BENCH_RSS,
    RMQ_BENCH_MODE__COUNT
};

/* The mode names of the command line, by enum rmq_bench_mode (bench.c). */
extern const char *const rmq_bench_mode_names[RMQ_BENCH_MODE__COUNT];

enum rmq_bench_client {
    RMQ_BENCH_CLIENT_LEAN = 0, /* one thread, net/conn.h */
    RMQ_BENCH_CLIENT_LIBRMQ,   /* librmq's producer (comparison) */
};

typedef struct rmq_bench_opts {
    int         mode;           /* enum rmq_bench_mode */
    const char *namesrv;        /* -n: "host:port" */
    const char *broker;         /* --broker: skip the name server */
    const char *config;         /* -c: broker config file */
    const char *rundir;         /* --rundir: the broker's run directory */
    const char *topic;          /* -t */
    int         queues;         /* -q: queues when creating the topic */
    int         size;           /* -s: body bytes */
    double      duration_s;     /* -d; 0 = mode default */
    bool        json;           /* --json */
    int         conns;          /* -C: producer connections */
    int         window;         /* --window (1 = --sync) */
    uint64_t    count;          /* --count: stop producing after N OK */
    const char *tag;            /* --tag: TAGS property; NULL = none */
    bool        uniq_key;       /* UNIQ_KEY property, as Java clients */
    int         pull_batch;     /* --batch: maxMsgNums of a pull */
    int         consume_conns;  /* --consume-conns */
    const char *group;          /* --group: consumerGroup of pulls */
    bool        from_committed; /* --from-committed: the group's offsets */
    uint64_t    produce_first;  /* --produce-first N (consume) */
    bool        verify_crc;     /* --verify: check body CRCs on consume */
    double      drain_s;        /* --drain-timeout */
    bool        progress;       /* progress lines on stderr */
    int         client;         /* enum rmq_bench_client */
} rmq_bench_opts;

/* ---- histograms (bench_hist.c) ----------------------------------------- */

/*
 * A log-linear histogram of microsecond values: exact below 256, then
 * 128 buckets per power of two (under 0.8 % relative error), up to
 * 2^40 us.  Percentiles report the highest value of the bucket holding
 * the rank, clamped to the recorded max, so p50 <= p99 <= p999 <= max.
 */
#define RMQ_BENCH_HIST_SUB_BITS 7
#define RMQ_BENCH_HIST_SUB (1u << RMQ_BENCH_HIST_SUB_BITS)
#define RMQ_BENCH_HIST_MAX_BITS 40
#define RMQ_BENCH_HIST_BUCKETS                                                 \
    ((RMQ_BENCH_HIST_MAX_BITS - RMQ_BENCH_HIST_SUB_BITS + 1) *                 \
     RMQ_BENCH_HIST_SUB)

typedef struct rmq_bench_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint64_t buckets[RMQ_BENCH_HIST_BUCKETS];
} rmq_bench_hist;

void rmq_bench_hist_init(rmq_bench_hist *h);
void rmq_bench_hist_add(rmq_bench_hist *h, int64_t value_us);
void rmq_bench_hist_merge(rmq_bench_hist *into, const rmq_bench_hist *h);
/* The q-quantile (0 < q <= 1) as defined above; 0 when empty. */
uint64_t rmq_bench_hist_pct(const rmq_bench_hist *h, double q);
double   rmq_bench_hist_mean(const rmq_bench_hist *h);
/* Bucket arithmetic (tests). */
uint32_t rmq_bench_hist_index(uint64_t v);
uint64_t rmq_bench_hist_upper(uint32_t idx);

/* ---- errors by response code ------------------------------------------- */

/* Pseudo codes for failures without a response. */
#define RMQ_BENCH_ERR_TIMEOUT (-1) /* no answer by the end of the drain */
#define RMQ_BENCH_ERR_CLOSED (-2)  /* the connection closed meanwhile */
#define RMQ_BENCH_ERR_SEND (-3)    /* could not queue the request */
#define RMQ_BENCH_ERR_BADREC (-4)  /* a pulled record failed to decode */
#define RMQ_BENCH_ERR_BADRESP (-5) /* a pull answer without nextBeginOffset */

typedef struct rmq_bench_errs {
    uint32_t n;
    int32_t  code[RMQ_BENCH_ERRS_MAX];
    uint64_t count[RMQ_BENCH_ERRS_MAX];
    uint64_t total;
} rmq_bench_errs;

void rmq_bench_errs_add(rmq_bench_errs *e, int32_t code, uint64_t n);
/* "14", "timeout", "closed", ... into buf. */
const char *rmq_bench_errs_name(int32_t code, char *buf, size_t cap);

/* ---- the broker and the topic (bench_setup.c) -------------------------- */

typedef struct rmq_bench_target {
    char broker_addr[RMQ_BENCH_ADDR_MAX]; /* the master we talk to */
    char broker_name[RMQ_BENCH_NAME_MAX];
    int  nbrokers; /* brokers in the route */
    int  write_queues;
    int  read_queues;
    bool created; /* we created the topic */
} rmq_bench_target;

/*
 * Find the broker (from --broker, the name server route, or the config),
 * creating the topic with opts->queues queues when it has no route.
 * Blocking; prints a reason to stderr and returns non-zero on failure.
 */
int rmq_bench_setup(const rmq_bench_opts *o, rmq_bench_target *t);
/* GET_MAX_OFFSET of every read queue into out[0..read_queues). */
int rmq_bench_max_offsets(const rmq_bench_opts *o, const rmq_bench_target *t,
                          int64_t *out);
/* QUERY_CONSUMER_OFFSET of group for every read queue (none: 0). */
int rmq_bench_group_offsets(const rmq_bench_opts *o, const rmq_bench_target *t,
                            int64_t *out);

/* ---- broker processes (bench_procs.c) ---------------------------------- */

typedef struct rmq_bench_proc {
    char    name[32];
    int32_t pid;
    int64_t rss_kib;   /* VmRSS; -1 unknown (process gone) */
    int64_t hwm_kib;   /* VmHWM: peak RSS */
    int64_t anon_kib;  /* RssAnon */
    int64_t file_kib;  /* RssFile: mapped store files, binaries */
    int64_t shmem_kib; /* RssShmem: shared segments */
    int64_t pss_kib;   /* smaps_rollup Pss; -1 when unreadable */
} rmq_bench_proc;

typedef struct rmq_bench_procs {
    bool           found;     /* a control segment was attached */
    char           flush[16]; /* flushDiskType of the running broker */
    char           why[256];  /* when !found */
    int            n;
    rmq_bench_proc p[RMQ_BENCH_PROCS_MAX];
} rmq_bench_procs;

/* The run directory to look in, from --rundir or -c; NULL when neither. */
const char *rmq_bench_rundir(const rmq_bench_opts *o);
/*
 * Attach <rundir>/control read-only and sample the supervisor and every
 * actor with a pid.  Never fails: out->found says whether it worked.
 */
void rmq_bench_procs_sample(const char *rundir, rmq_bench_procs *out);
/* The broker address the control segment's config announces, or "". */
void rmq_bench_procs_broker_addr(const char *rundir, char *out, size_t cap);

/* ---- the run ----------------------------------------------------------- */

typedef struct rmq_bench      rmq_bench;
typedef struct rmq_bench_prod rmq_bench_prod;
typedef struct rmq_bench_cons rmq_bench_cons;

/* What every connection's user pointer starts with. */
enum rmq_bench_conn_kind {
    RMQ_BENCH_CONN_PRODUCER = 1,
    RMQ_BENCH_CONN_CONSUMER = 2,
};

typedef struct rmq_bench_conn_hdr {
    int kind; /* enum rmq_bench_conn_kind */
} rmq_bench_conn_hdr;

/* Cumulative counters of one side, read for progress lines. */
typedef struct rmq_bench_side {
    uint64_t       msgs;     /* produce: OK sends; consume: messages */
    uint64_t       bytes;    /* body bytes of those */
    uint64_t       requests; /* sends / pulls issued */
    rmq_bench_errs errs;
    rmq_bench_hist lat;      /* produce: send latency; e2e: e2e */
    int64_t        start_us; /* first request */
    int64_t        end_us;   /* last response counted */
} rmq_bench_side;

struct rmq_bench {
    rmq_bench_opts   o;
    rmq_bench_target t;
    rmq_loop         loop;
    rmq_conns        conns;
    uint32_t         nonce; /* identifies this run's stamps */
    rmq_bench_prod  *prod;  /* NULL unless producing */
    rmq_bench_cons  *cons;  /* NULL unless consuming */
    rmq_bench_side   ps;    /* producer side */
    rmq_bench_side   cs;    /* consumer side */
    rmq_bench_side   pre;   /* --produce-first phase */
    bool             has_pre;
    rmq_bench_procs  procs_start;
    rmq_bench_procs  procs_end;
    uint64_t         pulls; /* consumer statistics, kept at the end */
    uint64_t         empty_pulls;
    uint64_t         seq_errors;
    uint64_t         stamped;
    bool             drained;    /* consume: every queue reached its target */
    bool             window_set; /* --sync or --window was given */
    bool             failed;     /* a fatal problem (message printed) */
};

/* SIGINT / SIGTERM seen. */
bool rmq_bench_interrupted(void);

/* Producer (bench_produce.c). */
int rmq_bench_prod_start(rmq_bench *b, rmq_bench_side *side, uint64_t limit);
/* Start sending on every connection (once they all connected). */
void rmq_bench_prod_go(rmq_bench *b);
/* Stop issuing sends; outstanding ones still complete. */
void rmq_bench_prod_stop(rmq_bench *b);
/* Sends issued and not yet answered. */
uint64_t rmq_bench_prod_inflight(const rmq_bench *b);
/* Reached its limit (--count) and every send is answered. */
bool rmq_bench_prod_done(const rmq_bench *b);
/* Count what is still outstanding as timeouts, close, free. */
void rmq_bench_prod_fini(rmq_bench *b);
void rmq_bench_prod_on_cmd(rmq_bench *b, void *conn_user, rmq_rcmd *cmd);
void rmq_bench_prod_on_close(rmq_bench *b, void *conn_user);
void rmq_bench_prod_on_connect(rmq_bench *b, void *conn_user, bool ok);
/* All connections finished connecting (ok or not); how many are up. */
bool rmq_bench_prod_connected(const rmq_bench *b, int *up);

/*
 * Consumer (bench_consume.c).  from[q] is where queue q starts, to[q]
 * where it is drained (NULL: follow forever, for e2e).
 */
int rmq_bench_cons_start(rmq_bench *b, const int64_t *from, const int64_t *to);
/* Start pulling every queue. */
void rmq_bench_cons_go(rmq_bench *b);
bool rmq_bench_cons_done(const rmq_bench *b);
/* Messages of this run seen (e2e: stamped with our nonce). */
uint64_t rmq_bench_cons_stamped(const rmq_bench *b);
/* Seconds since the last pull answered with messages (stall check). */
double rmq_bench_cons_idle_s(const rmq_bench *b);
void   rmq_bench_cons_fini(rmq_bench *b);
void   rmq_bench_cons_on_cmd(rmq_bench *b, void *conn_user, rmq_rcmd *cmd);
void   rmq_bench_cons_on_close(rmq_bench *b, void *conn_user);
void   rmq_bench_cons_on_connect(rmq_bench *b, void *conn_user, bool ok);
void   rmq_bench_cons_tick(rmq_bench *b, int64_t now_us);
bool   rmq_bench_cons_connected(const rmq_bench *b, int *up);
/* Pulls answered with messages, empty pulls, records out of sequence. */
void rmq_bench_cons_stats(const rmq_bench *b, uint64_t *pulls, uint64_t *empty,
                          uint64_t *seq_errors);

/* librmq comparison (bench_librmq.c): a whole produce run. */
int rmq_bench_librmq_produce(rmq_bench *b);

/* Output (bench_report.c). */
void rmq_bench_report(rmq_bench *b);
/* Exit status for the run: 0, or 1 when anything failed. */
int rmq_bench_exit_status(const rmq_bench *b);

#endif

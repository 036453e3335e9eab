/*
 * control.h - the control segment: one per broker, a file at
 * <runDir>/control mapped MAP_SHARED by the supervisor, every actor and
 * rmqctl.  It holds what processes must see of each other without asking:
 * who runs, their health and counters, the effective configuration, the
 * store positions, and the topic-queue table.
 *
 * Lifecycle: the supervisor creates a fresh segment at each start (a new
 * file renamed over the old one, so processes still mapping a stale
 * segment keep their own inode and never see half-initialised data) and
 * bumps `generation`.  Actors attach by path and check magic, version,
 * size and generation.  Nothing in it survives a supervisor restart; the
 * store on disk is the durable truth.
 *
 * Layout (offsets from the segment start; all sizes fixed, no pointers):
 *
 *   0        rmq_ctl_header          4 KiB   writer: supervisor
 *   4 KiB    rmq_actor_slot[16]      16 x 1 KiB
 *              .sup  (first 512 B)           writer: supervisor
 *              .act  (second 512 B)          writer: the actor in the slot
 *   20 KiB   config text             64 KiB  writer: supervisor (seqlock
 *                                             config_seq in the header)
 *   84 KiB   rmq_store_pos           4 KiB   one cache-line group per
 *                                             writer: clwriter, flusher,
 *                                             dispatcher, scheduler
 *   88 KiB   topic hash index        RMQ_TOPIC_HASH x uint32
 *                                             writer: clwriter
 *   ...      rmq_topic_entry[RMQ_TOPIC_MAX]    writer: clwriter (seqlock
 *                                             per entry)
 *   ...      rmq_queue_w[RMQ_QUEUE_MAX]         writer: clwriter
 *                                             (next queue offset)
 *   ...      rmq_queue_d[RMQ_QUEUE_MAX]         writer: dispatcher
 *                                             (min/max consume-queue offset)
 *   ...      group hash index        RMQ_GROUP_HASH x uint32
 *                                             writer: rebalancer
 *   ...      rmq_group_entry[RMQ_GROUP_MAX]    writer: rebalancer (seqlock
 *                                             per entry): subscription
 *                                             group configs
 *   ...      rmq_sub_entry[RMQ_SUB_MAX]        writer: rebalancer (seqlock
 *                                             per entry): subscriptions
 *                                             from heartbeats, for pulls
 *                                             that do not carry theirs
 *
 * Every field has exactly one writer process; readers use acquire loads on
 * the position words a writer publishes with release stores.  There are no
 * locks in the segment.
 */
#ifndef RMQ_SHM_CONTROL_H
#define RMQ_SHM_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_CTL_MAGIC UINT64_C(0x524d51434f4e5452) /* "RMQCONTR" */
#define RMQ_CTL_VERSION 3
#define RMQ_ACTOR_MAX 16
#define RMQ_COUNTER_MAX 8
#define RMQ_COUNTER_NAME_MAX 16
#define RMQ_ACTOR_NAME_MAX 16
#define RMQ_CTL_CONFIG_MAX (64 * 1024)
#define RMQ_TOPIC_MAX 8192
#define RMQ_TOPIC_HASH 16384   /* power of two, > 2 x RMQ_TOPIC_MAX */
#define RMQ_TOPIC_NAME_MAX 128 /* bytes incl. NUL: topics <= 127 bytes */
#define RMQ_QUEUE_MAX 65536
#define RMQ_GROUP_MAX 4096
#define RMQ_GROUP_HASH 8192 /* power of two, > 2 x RMQ_GROUP_MAX */
#define RMQ_GROUP_NAME_MAX 256
#define RMQ_SUB_MAX 16384
#define RMQ_SUB_EXPR_MAX 256
#define RMQ_CTL_FILE "control"

/* What the supervisor says about an actor (rmq_actor_slot.sup.state). */
enum rmq_actor_state {
    RMQ_ASTATE_NONE = 0, /* not part of this broker (disabled role) */
    RMQ_ASTATE_WAITING,  /* not started yet (start order) */
    RMQ_ASTATE_STARTING, /* spawned, not READY yet */
    RMQ_ASTATE_RUNNING,  /* spawned; READY when act.ready_pid == sup.pid */
    RMQ_ASTATE_STOPPING, /* asked to stop */
    RMQ_ASTATE_BACKOFF,  /* exited, restart scheduled */
    RMQ_ASTATE_STOPPED,  /* exited, not restarted */
    RMQ_ASTATE__COUNT
};

typedef struct rmq_ctl_header {
    uint64_t         magic;
    uint32_t         version;
    uint32_t         header_size;
    uint64_t         size;       /* whole segment, bytes */
    uint64_t         generation; /* bumped by each supervisor start */
    int32_t          supervisor_pid;
    uint32_t         actor_count; /* slots in use */
    int64_t          created_ms;  /* wall clock */
    _Atomic uint32_t sup_state;   /* enum rmq_sup_state */
    _Atomic uint32_t config_len;  /* bytes of config text */
    _Atomic uint64_t config_seq;  /* seqlock: odd while being rewritten */
    _Atomic uint64_t reload_count;
    int64_t          ready_ms; /* monotonic ms from start to all READY */
    char             config_source[256];
} rmq_ctl_header;

enum rmq_sup_state {
    RMQ_SUP_STARTING = 0,
    RMQ_SUP_RUNNING = 1,
    RMQ_SUP_STOPPING = 2,
};

/* Supervisor-written half of a slot. */
typedef struct rmq_slot_sup {
    char             name[RMQ_ACTOR_NAME_MAX];
    _Atomic int32_t  pid;       /* current or last process; 0 = none */
    _Atomic uint32_t state;     /* enum rmq_actor_state */
    _Atomic uint32_t restarts;  /* restarts since the supervisor started */
    _Atomic int32_t  last_exit; /* exit code, or -signal; 0 if none yet */
    _Atomic int64_t  start_ms;  /* wall clock of the last spawn */
    _Atomic int64_t  exit_ms;   /* wall clock of the last exit */
    _Atomic uint32_t exits;     /* how many times it exited */
    uint32_t         restart_type;
} rmq_slot_sup;

/* Actor-written half of a slot. */
typedef struct rmq_slot_act {
    _Atomic int32_t  ready_pid;    /* == sup.pid once this process is READY */
    _Atomic int32_t  clean_pid;    /* == pid when it exited on purpose */
    _Atomic int64_t  heartbeat_ms; /* CLOCK_MONOTONIC ms, by the runner */
    _Atomic uint64_t counters[RMQ_COUNTER_MAX];
    char             counter_names[RMQ_COUNTER_MAX][RMQ_COUNTER_NAME_MAX];
} rmq_slot_act;

typedef struct rmq_actor_slot {
    union {
        rmq_slot_sup s;
        char         pad[512];
    } sup;
    union {
        rmq_slot_act s;
        char         pad[512];
    } act;
} rmq_actor_slot;

/*
 * Store positions.  Commit-log offsets are global byte offsets; a value
 * of -1 means "not known yet" (store not opened in this generation).
 */
typedef struct rmq_store_pos {
    /* writer: clwriter */
    _Alignas(
        64) _Atomic uint64_t store_gen; /* == header.generation once opened */
    _Atomic int64_t  cl_min_offset;     /* first byte still on disk */
    _Atomic int64_t  cl_written; /* records below are complete (release) */
    _Atomic int64_t  cl_hwm;     /* bytes below may have been touched */
    _Atomic int64_t  cl_last_store_ms;
    _Atomic uint64_t topics_gen;    /* bumped on every topic table change */
    _Atomic int64_t  dispatch_from; /* where a fresh dispatcher starts */
    _Atomic uint64_t puts_total;    /* records appended since start */
    /* writer: flusher */
    _Alignas(64) _Atomic int64_t cl_flushed; /* records below are on disk */
    _Atomic int64_t  cl_flushed_store_ms;
    _Atomic uint64_t flushes; /* fdatasync calls */
    /* writer: dispatcher */
    _Alignas(64) _Atomic int64_t dispatched; /* records below are in CQs */
    _Atomic int64_t dispatched_store_ms;
    /* writer: scheduler */
    _Alignas(64) _Atomic int64_t delay_pending; /* waiting delayed msgs */
    _Atomic uint64_t delay_gen;        /* == header.generation once loaded */
    _Atomic int64_t  delay_offset[32]; /* per level: next CQ offset */
    /* writer: rebalancer */
    _Alignas(64) _Atomic uint64_t groups_gen; /* bumped on group changes */
    _Atomic uint64_t subs_gen; /* bumped on subscription changes */
    /* writer: longpoll */
    _Alignas(64) _Atomic int64_t lp_held; /* pulls it holds now */
} rmq_store_pos;

enum rmq_topic_state {
    RMQ_TOPIC_FREE = 0,
    RMQ_TOPIC_LIVE = 1,
    RMQ_TOPIC_DELETED = 2,
};

#define RMQ_TOPIC_F_ORDER 0x1     /* order flag of TopicConfig */
#define RMQ_TOPIC_F_MULTI_TAG 0x2 /* topicFilterType MULTI_TAG */

/*
 * One topic.  Written only by clwriter under the entry's seqlock (seq odd
 * while writing).  Entries never move and a name never changes once set:
 * a deleted topic that is created again revives its own entry.
 */
typedef struct rmq_topic_entry {
    _Atomic uint32_t seq;
    uint32_t         state; /* enum rmq_topic_state */
    char             name[RMQ_TOPIC_NAME_MAX];
    int32_t          read_queues;
    int32_t          write_queues;
    int32_t          perm;
    int32_t          sysflag;
    uint32_t         flags;      /* RMQ_TOPIC_F_* */
    uint32_t         queue_base; /* first index into the queue arrays */
    uint32_t         queue_cap;  /* queue slots reserved at queue_base */
    uint32_t         pad;
} rmq_topic_entry;

/* Per queue, written by clwriter: the next queue offset to assign. */
typedef struct rmq_queue_w {
    _Atomic int64_t next_offset;
} rmq_queue_w;

/* Per queue, written by dispatcher: the consume-queue window. */
typedef struct rmq_queue_d {
    _Atomic int64_t max_offset;    /* entries below are readable (release) */
    _Atomic int64_t min_offset;    /* first live entry */
    _Atomic int64_t last_store_ms; /* store time of the newest entry */
    int64_t         pad;
} rmq_queue_d;

/*
 * One subscription group (subscriptionGroup.json).  Written only by the
 * rebalancer under the entry's seqlock; entries never move; a name never
 * changes once published in the group hash index.
 */
typedef struct rmq_group_entry {
    _Atomic uint32_t seq;
    uint32_t         state; /* 0 free, 1 live, 2 deleted */
    char             name[RMQ_GROUP_NAME_MAX];
    bool             consume_enable;
    bool             consume_from_min_enable;
    bool             consume_broadcast_enable;
    bool             notify_ids_changed_enable;
    int32_t          retry_queue_nums;
    int32_t          retry_max_times;
    int64_t          broker_id;
    int64_t          which_broker_when_slow;
    uint32_t         flags; /* RMQ_GROUP_F_* */
    uint32_t         pad;
} rmq_group_entry;

#define RMQ_GROUP_F_ORDERLY 0x1 /* consumeMessageOrderly (rmq extension) */

/*
 * One (group, topic) subscription as the group's consumers last reported
 * it in HEART_BEAT; the acceptor filters pulls that carry no
 * subscription of their own with it.  Writer: rebalancer (seqlock).
 */
typedef struct rmq_sub_entry {
    _Atomic uint32_t seq;
    uint32_t         state; /* 0 free, 1 live, 2 removed */
    uint32_t         group_idx;
    char             topic[RMQ_TOPIC_NAME_MAX];
    char             expr[RMQ_SUB_EXPR_MAX]; /* subString, "*" = all */
    int64_t          sub_version;
    uint32_t         expr_type; /* 0 TAG, 1 SQL92 */
    uint32_t         pad;
} rmq_sub_entry;

/* Offsets of each region from the segment start. */
#define RMQ_CTL_OFF_SLOTS 4096u
#define RMQ_CTL_OFF_CONFIG (RMQ_CTL_OFF_SLOTS + RMQ_ACTOR_MAX * 1024u)
#define RMQ_CTL_OFF_POS (RMQ_CTL_OFF_CONFIG + RMQ_CTL_CONFIG_MAX)
#define RMQ_CTL_OFF_THASH (RMQ_CTL_OFF_POS + 4096u)
#define RMQ_CTL_OFF_TOPICS (RMQ_CTL_OFF_THASH + RMQ_TOPIC_HASH * 4u)
#define RMQ_CTL_OFF_QW                                                         \
    (RMQ_CTL_OFF_TOPICS + RMQ_TOPIC_MAX * sizeof(rmq_topic_entry))
#define RMQ_CTL_OFF_QD (RMQ_CTL_OFF_QW + RMQ_QUEUE_MAX * sizeof(rmq_queue_w))
#define RMQ_CTL_OFF_GHASH (RMQ_CTL_OFF_QD + RMQ_QUEUE_MAX * sizeof(rmq_queue_d))
#define RMQ_CTL_OFF_GROUPS (RMQ_CTL_OFF_GHASH + RMQ_GROUP_HASH * 4u)
#define RMQ_CTL_OFF_SUBS                                                       \
    (RMQ_CTL_OFF_GROUPS + RMQ_GROUP_MAX * sizeof(rmq_group_entry))
#define RMQ_CTL_SIZE (RMQ_CTL_OFF_SUBS + RMQ_SUB_MAX * sizeof(rmq_sub_entry))

/* A process's view of an attached segment. */
typedef struct rmq_ctl {
    void             *base;
    size_t            len;
    rmq_ctl_header   *hdr;
    rmq_actor_slot   *slots;
    char             *config;
    rmq_store_pos    *pos;
    _Atomic uint32_t *thash; /* topic index + 1; 0 = empty */
    rmq_topic_entry  *topics;
    rmq_queue_w      *qw;
    rmq_queue_d      *qd;
    _Atomic uint32_t *ghash; /* group index + 1; 0 = empty */
    rmq_group_entry  *groups;
    rmq_sub_entry    *subs;
} rmq_ctl;

/*
 * Supervisor: create a fresh segment at path (replacing any old one
 * atomically).  The generation is the old segment's + 1 when the old one
 * is readable, else derived from the clock.  May block on disk I/O.
 */
int rmq_ctl_create(const char *path, rmq_ctl *out);
/*
 * Attach an existing segment.  writable selects PROT_WRITE (actors) or
 * read-only (rmqctl).  Returns RMQ_ERR_VERSION on a magic, version or size
 * mismatch, RMQ_ERR_NOTFOUND when there is no file.
 */
int  rmq_ctl_attach(const char *path, bool writable, rmq_ctl *out);
void rmq_ctl_detach(rmq_ctl *ctl);

/* Supervisor: replace the config text (seqlock). */
int rmq_ctl_config_write(rmq_ctl *ctl, const char *text);
/*
 * Anyone: copy a consistent config text into a malloc'd string.  Spins
 * while the supervisor rewrites it (a few microseconds at most).
 */
char *rmq_ctl_config_read(const rmq_ctl *ctl);

const char *rmq_actor_state_name(unsigned state);
/* The pid of actor slot id when it is running and READY, else 0. */
int32_t rmq_ctl_actor_ready(const rmq_ctl *ctl, int id);

/* Topic table (readers; clwriter's writes live in the store code). */
uint32_t rmq_ctl_topic_hash(const char *name, size_t len);
/*
 * Find a topic by name.  Returns its index or -1.  Fills *snap with a
 * consistent copy of the entry (seqlock read).  Lock-free, any process.
 */
int rmq_ctl_topic_find(const rmq_ctl *ctl, const char *name, size_t len,
                       rmq_topic_entry *snap);
/* Consistent copy of entry idx; false if the index is out of range. */
bool rmq_ctl_topic_read(const rmq_ctl *ctl, int idx, rmq_topic_entry *snap);

/* Group table (readers; the rebalancer writes). Same contract as topics. */
int  rmq_ctl_group_find(const rmq_ctl *ctl, const char *name,
                        rmq_group_entry *snap);
bool rmq_ctl_group_read(const rmq_ctl *ctl, int idx, rmq_group_entry *snap);
/* Consistent copy of subscription idx. */
bool rmq_ctl_sub_read(const rmq_ctl *ctl, int idx, rmq_sub_entry *snap);
/*
 * Find the live subscription of group to topic (linear scan of the
 * subscriptions of that group; callers cache by subs_gen).  Returns its
 * index or -1.
 */
int rmq_ctl_sub_find(const rmq_ctl *ctl, int group_idx, const char *topic,
                     rmq_sub_entry *snap);

/*
 * Seqlock helpers for the single writer of an entry: begin makes seq odd
 * (readers retry), end makes it even again with release ordering.
 */
void rmq_ctl_seq_begin(_Atomic uint32_t *seq);
void rmq_ctl_seq_end(_Atomic uint32_t *seq);

#endif

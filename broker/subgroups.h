/*
 * subgroups.h - subscription group configs (SubscriptionGroupConfig, spec
 * remoting 3; subscriptionGroup.json, store-format.md 7) and their
 * publication in the control segment, together with the subscriptions
 * consumers report in heartbeats.
 *
 * Owned by the rebalancer, the single writer of the control segment's
 * group and subscription regions (shm/control.h).  Every config is
 * published as an rmq_group_entry (state 1 live, 2 deleted) and every
 * live consumer group's subscriptions as rmq_sub_entry rows (state 1 live,
 * 2 removed): the acceptor checks pulls against them.  Entries are
 * written under their seqlock, allocated in order and never freed (a
 * deleted group or removed subscription revives its own entry); a new
 * group entry is put in the hash index only once complete.  groups_gen and
 * subs_gen are bumped after each change.
 *
 * The configs are saved to config/subscriptionGroup.json on every change
 * and loaded at start, on top of Java's seven pre-seeded groups.  When the
 * rebalancer restarts on a live segment it adopts the entries there (the
 * name -> index mapping must not move under readers), finishes any write
 * a crash interrupted, and republishes from the loaded configs.
 */
#ifndef RMQ_BROKER_SUBGROUPS_H
#define RMQ_BROKER_SUBGROUPS_H

#include "broker/strmap.h"
#include "common/buf.h"
#include "shm/control.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rmq_sgconf {
    char    name[RMQ_GROUP_NAME_MAX]; /* groupName */
    bool    consume_enable;           /* consumeEnable (true) */
    bool    consume_from_min_enable;  /* consumeFromMinEnable (true) */
    bool    consume_broadcast_enable; /* consumeBroadcastEnable (true) */
    bool    notify_ids_changed;     /* notifyConsumerIdsChangedEnable (true) */
    bool    orderly;                /* consumeMessageOrderly (5.x; false) */
    int32_t retry_queue_nums;       /* retryQueueNums (1) */
    int32_t retry_max_times;        /* retryMaxTimes (16) */
    int64_t broker_id;              /* brokerId (0) */
    int64_t which_broker_when_slow; /* whichBrokerWhenConsumeSlowly (1) */
} rmq_sgconf;

/* A subscription to publish (see rmq_subgroups_publish_subs). */
typedef struct rmq_sub_pub {
    const char *topic;
    const char *expr; /* subString */
    int64_t     sub_version;
    uint32_t    expr_type; /* 0 TAG, 1 SQL92 */
} rmq_sub_pub;

typedef struct rmq_subgroups rmq_subgroups;

/* The config Java gives a new group. */
void rmq_sgconf_defaults(rmq_sgconf *c, const char *name);
/*
 * A SubscriptionGroupConfig JSON body (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP):
 * groupName required, other fields default as in Java.  Returns 0 or
 * RMQ_ERR_PROTO (remark says why).
 */
int rmq_sgconf_parse(const void *body, size_t len, rmq_sgconf *out,
                     char *remark, size_t remark_cap);

/*
 * Create the table: seed Java's groups, load path (with .bak fallback;
 * missing is fine, unreadable both ways is RMQ_ERR_CORRUPT), adopt and
 * republish the control segment's regions when ctl is not NULL.  ctl may
 * be NULL (tests, tools): nothing is published then.  path may be NULL:
 * nothing is loaded or saved.
 */
int  rmq_subgroups_open(rmq_subgroups **out, rmq_ctl *ctl, const char *path);
void rmq_subgroups_close(rmq_subgroups *sg);

/* The live config of name, or NULL. */
const rmq_sgconf *rmq_subgroups_find(const rmq_subgroups *sg, const char *name);
/*
 * The live config of name; when there is none and create is set, a new
 * one with the defaults (published and saved).  *created tells whether
 * it was made now.  NULL when absent and not created, or on failure.
 */
const rmq_sgconf *rmq_subgroups_find_or_create(rmq_subgroups *sg,
                                               const char *name, bool create,
                                               bool *created);
/* Create or replace a config (published and saved).  0 or an rmq_err. */
int rmq_subgroups_update(rmq_subgroups *sg, const rmq_sgconf *c);
/* Delete a config (entry state 2, saved).  RMQ_ERR_NOTFOUND if absent. */
int rmq_subgroups_delete(rmq_subgroups *sg, const char *name);
/* Live configs. */
uint32_t rmq_subgroups_count(const rmq_subgroups *sg);

/*
 * subscriptionGroup.json text: {"dataVersion":{"counter","timestamp"},
 * "subscriptionGroupTable":{name:SubscriptionGroupConfig}}.  pretty for
 * the file, compact for GET_ALL_SUBSCRIPTIONGROUP_CONFIG.
 */
int rmq_subgroups_json(const rmq_subgroups *sg, bool pretty, rmq_buf *out);
/* Save now (done after every change already); 0 or an rmq_err. */
int rmq_subgroups_save(rmq_subgroups *sg);

/*
 * Make group's published subscriptions exactly subs[0..n): rewrite
 * changed rows, mark dropped topics removed, add (or revive) the rest.
 * Needs the group's entry (a config, live or deleted); RMQ_ERR_NOTFOUND
 * without one, RMQ_ERR_FULL when the region is full (what fit is
 * published).  n = 0 removes them all.
 */
int rmq_subgroups_publish_subs(rmq_subgroups *sg, const char *group,
                               const rmq_sub_pub *subs, uint32_t n);
/*
 * Remove the published subscriptions of every group for which keep
 * returns false (after a restart: groups whose consumers did not come
 * back).
 */
void rmq_subgroups_prune_subs(rmq_subgroups *sg,
                              bool (*keep)(void *arg, const char *group),
                              void *arg);
/* Control-segment index of group's entry, or -1 (tests). */
int rmq_subgroups_shm_index(const rmq_subgroups *sg, const char *name);

#endif

/*
 * config.h - the broker configuration (libconfig file, RocketMQ key names).
 *
 * The supervisor parses the operator's file (or the embedded default,
 * etc/rmq.conf), validates every key against one schema table, and writes
 * the *effective* configuration (rmq_config_print output, a valid libconfig
 * file itself) into the control segment.  Actors parse that copy, so every
 * process sees the same validated values, and a restarted actor never
 * reads a file an operator edited since the last reload.
 *
 * Groups: `broker` (optional), `namesrv` (optional), `supervisor`.  An
 * absent group means that role is not run; at least one of broker and
 * namesrv must be present.  An unknown key, a wrong type, or an
 * out-of-range value is an error naming file:line and the key.
 */
#ifndef RMQ_CONFIG_H
#define RMQ_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RMQ_CONFIG_STR_MAX 256
#define RMQ_CONFIG_PATH_MAX 1024
#define RMQ_DELAY_LEVEL_MAX 32

enum rmq_flush_type {
    RMQ_FLUSH_ASYNC = 0,
    RMQ_FLUSH_SYNC = 1,
};

enum rmq_broker_role {
    RMQ_ROLE_ASYNC_MASTER = 0,
    RMQ_ROLE_SYNC_MASTER = 1,
    RMQ_ROLE_SLAVE = 2,
};

typedef struct rmq_broker_config {
    char    cluster_name[RMQ_CONFIG_STR_MAX]; /* brokerClusterName */
    char    broker_name[RMQ_CONFIG_STR_MAX];  /* brokerName */
    int64_t broker_id;                        /* brokerId */
    char    broker_ip1[RMQ_CONFIG_STR_MAX];   /* brokerIP1; "" = detect */
    int32_t listen_port;                      /* listenPort */
    char    namesrv_addr[RMQ_CONFIG_STR_MAX]; /* namesrvAddr, "h:p;h:p" */
    char    store_root[RMQ_CONFIG_PATH_MAX];  /* storePathRootDir (abs) */
    int     flush_disk_type;                  /* enum rmq_flush_type */
    int     broker_role;                      /* enum rmq_broker_role */
    bool    auto_create_topic;                /* autoCreateTopicEnable */
    bool    auto_create_group;                /* autoCreateSubscriptionGroup */
    int32_t default_topic_queue_nums;         /* defaultTopicQueueNums */
    int32_t broker_permission;                /* brokerPermission */
    int64_t commitlog_file_size;              /* mappedFileSizeCommitLog */
    int64_t cq_file_size;                     /* mappedFileSizeConsumeQueue */
    int32_t max_message_size;                 /* maxMessageSize */
    int32_t flush_interval_cl_ms;             /* flushIntervalCommitLog */
    int32_t flush_cl_least_pages;             /* flushCommitLogLeastPages */
    int32_t flush_cl_thorough_ms;  /* flushCommitLogThoroughInterval */
    int32_t flush_interval_cq_ms;  /* flushIntervalConsumeQueue */
    int32_t flush_cq_least_pages;  /* flushConsumeQueueLeastPages */
    int32_t sync_flush_timeout_ms; /* syncFlushTimeout */
    bool    check_crc_on_recover;  /* checkCRCOnRecover */
    char    delay_levels_text[RMQ_CONFIG_STR_MAX]; /* messageDelayLevel */
    int     delay_level_count;                     /* parsed from the text */
    int64_t delay_level_ms[RMQ_DELAY_LEVEL_MAX];
    bool    long_polling_enable;      /* longPollingEnable */
    int32_t short_polling_ms;         /* shortPollingTimeMills */
    int32_t register_period_ms;       /* registerNameServerPeriod */
    int32_t channel_idle_sec;         /* serverChannelMaxIdleTimeSeconds */
    int32_t channel_expired_ms;       /* channelExpiredTimeout */
    int32_t flush_offset_interval_ms; /* flushConsumerOffsetInterval */
    int32_t flush_delay_offset_interval_ms; /* flushDelayOffsetInterval */
    int32_t max_transfer_count; /* maxTransferCountOnMessageInMemory */
    int32_t max_transfer_bytes; /* maxTransferBytesOnMessageInMemory */
    int64_t put_ring_bytes;     /* putRingBytes (rmq) */
} rmq_broker_config;

typedef struct rmq_namesrv_config {
    bool    enabled;          /* enabled */
    int32_t listen_port;      /* listenPort */
    int32_t broker_expire_ms; /* brokerChannelExpiredTime */
} rmq_namesrv_config;

typedef struct rmq_supervisor_config {
    char    run_dir[RMQ_CONFIG_PATH_MAX]; /* runDir (absolute) */
    int32_t restart_intensity;            /* restartIntensity */
    int32_t restart_period_sec;           /* restartPeriodSec */
    int32_t heartbeat_timeout_sec;        /* heartbeatTimeoutSec */
    int32_t start_timeout_sec;            /* startTimeoutSec */
    int     log_level;                    /* logLevel */
} rmq_supervisor_config;

typedef struct rmq_config {
    bool                  has_broker;  /* a `broker` group is present */
    bool                  has_namesrv; /* a `namesrv` group is present */
    rmq_broker_config     broker;
    rmq_namesrv_config    namesrv;
    rmq_supervisor_config supervisor;
} rmq_config;

/* The embedded default (etc/rmq.conf, compiled in). */
extern const char rmq_default_conf[];

/*
 * Parse and validate.  name is what errors call the source (a file path,
 * or "<embedded>").  On failure returns RMQ_ERR_CONFIG and writes a
 * one-line "file:line: key: reason" into err.  Relative paths are made
 * absolute against the current directory.
 */
int rmq_config_load_file(const char *path, rmq_config *out, char *err,
                         size_t errcap);
int rmq_config_load_string(const char *text, const char *name, rmq_config *out,
                           char *err, size_t errcap);

/* Every key with its effective value, as a loadable libconfig file. */
void rmq_config_print(const rmq_config *cfg, FILE *out);
/* Same, into a malloc'd string (caller frees); NULL when out of memory. */
char *rmq_config_to_string(const rmq_config *cfg);

/*
 * Apply a reloaded configuration: copy the keys that may change at run
 * time from next into cur; for each key that differs but may not change,
 * log a warning and keep cur's value.  Returns how many keys changed.
 */
int rmq_config_apply_reload(rmq_config *cur, const rmq_config *next);

#endif

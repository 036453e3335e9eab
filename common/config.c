/*
 * config.c - schema-driven libconfig loader, printer and reload merge (see
 * config.h).  Used by the supervisor (operator's file, SIGHUP), by every
 * actor (the effective copy in the control segment) and by rmqctl (to find
 * the run directory and the name servers).  No shared state.
 */
#include "common/config.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum cfg_type {
    CFG_STR,  /* char[size] */
    CFG_PATH, /* char[size]; made absolute */
    CFG_I32,  /* int32_t */
    CFG_I64,  /* int64_t */
    CFG_BOOL, /* bool */
    CFG_ENUM, /* int, index into names */
};

struct cfg_key {
    const char        *group;
    const char        *key;
    enum cfg_type      type;
    size_t             offset;
    size_t             size;
    int64_t            min, max;
    const char        *def;
    const char *const *names;
    bool               reloadable;
};

static const char *const cfg_flush_names[] = {"ASYNC_FLUSH", "SYNC_FLUSH",
                                              NULL};
static const char *const cfg_role_names[] = {"ASYNC_MASTER", "SYNC_MASTER",
                                             "SLAVE", NULL};
static const char *const cfg_level_names[] = {"error", "warn", "info", "debug",
                                              NULL};

#define B(f) offsetof(rmq_config, broker.f), sizeof(((rmq_config *)0)->broker.f)
#define N(f)                                                                   \
    offsetof(rmq_config, namesrv.f), sizeof(((rmq_config *)0)->namesrv.f)
#define S(f)                                                                   \
    offsetof(rmq_config, supervisor.f), sizeof(((rmq_config *)0)->supervisor.f)
#define NOLIM 1, 0 /* min > max: no range check */
#define I32MAX INT32_MAX
#define RELOAD true
#define FIXED false

/* The one schema: every key, its type, range, default and reload rule. */
static const struct cfg_key cfg_schema[] = {
    {"broker", "brokerClusterName", CFG_STR, B(cluster_name), NOLIM,
     "DefaultCluster", NULL, FIXED},
    {"broker", "brokerName", CFG_STR, B(broker_name), NOLIM, "broker-a", NULL,
     FIXED},
    {"broker", "brokerId", CFG_I64, B(broker_id), 0, 0, "0", NULL, FIXED},
    {"broker", "brokerIP1", CFG_STR, B(broker_ip1), NOLIM, "", NULL, FIXED},
    {"broker", "listenPort", CFG_I32, B(listen_port), 3, 65534, "10911", NULL,
     FIXED},
    {"broker", "namesrvAddr", CFG_STR, B(namesrv_addr), NOLIM, "127.0.0.1:9876",
     NULL, FIXED},
    {"broker", "storePathRootDir", CFG_PATH, B(store_root), NOLIM, "var/store",
     NULL, FIXED},
    {"broker", "flushDiskType", CFG_ENUM, B(flush_disk_type), NOLIM,
     "ASYNC_FLUSH", cfg_flush_names, FIXED},
    {"broker", "brokerRole", CFG_ENUM, B(broker_role), NOLIM, "ASYNC_MASTER",
     cfg_role_names, FIXED},
    {"broker", "autoCreateTopicEnable", CFG_BOOL, B(auto_create_topic), NOLIM,
     "true", NULL, RELOAD},
    {"broker", "autoCreateSubscriptionGroup", CFG_BOOL, B(auto_create_group),
     NOLIM, "true", NULL, RELOAD},
    {"broker", "defaultTopicQueueNums", CFG_I32, B(default_topic_queue_nums), 1,
     1024, "8", NULL, RELOAD},
    {"broker", "brokerPermission", CFG_I32, B(broker_permission), 0, 15, "6",
     NULL, RELOAD},
    {"broker", "mappedFileSizeCommitLog", CFG_I64, B(commitlog_file_size),
     65536, INT64_C(68719476736), "1073741824", NULL, FIXED},
    {"broker", "mappedFileSizeConsumeQueue", CFG_I64, B(cq_file_size), 20 * 16,
     INT64_C(1200000000), "6000000", NULL, FIXED},
    {"broker", "maxMessageSize", CFG_I32, B(max_message_size), 1024,
     16 * 1024 * 1024 - 65536, "4194304", NULL, RELOAD},
    {"broker", "flushIntervalCommitLog", CFG_I32, B(flush_interval_cl_ms), 1,
     60000, "500", NULL, RELOAD},
    {"broker", "flushCommitLogLeastPages", CFG_I32, B(flush_cl_least_pages), 0,
     1 << 20, "4", NULL, RELOAD},
    {"broker", "flushCommitLogThoroughInterval", CFG_I32,
     B(flush_cl_thorough_ms), 1, 3600000, "10000", NULL, RELOAD},
    {"broker", "flushIntervalConsumeQueue", CFG_I32, B(flush_interval_cq_ms), 1,
     60000, "1000", NULL, RELOAD},
    {"broker", "flushConsumeQueueLeastPages", CFG_I32, B(flush_cq_least_pages),
     0, 1 << 20, "2", NULL, RELOAD},
    {"broker", "syncFlushTimeout", CFG_I32, B(sync_flush_timeout_ms), 1, 600000,
     "5000", NULL, RELOAD},
    {"broker", "checkCRCOnRecover", CFG_BOOL, B(check_crc_on_recover), NOLIM,
     "true", NULL, FIXED},
    {"broker", "messageDelayLevel", CFG_STR, B(delay_levels_text), NOLIM,
     "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", NULL, FIXED},
    {"broker", "longPollingEnable", CFG_BOOL, B(long_polling_enable), NOLIM,
     "true", NULL, RELOAD},
    {"broker", "shortPollingTimeMills", CFG_I32, B(short_polling_ms), 1, 60000,
     "1000", NULL, RELOAD},
    {"broker", "registerNameServerPeriod", CFG_I32, B(register_period_ms), 1000,
     60000, "30000", NULL, RELOAD},
    {"broker", "serverChannelMaxIdleTimeSeconds", CFG_I32, B(channel_idle_sec),
     1, 86400, "120", NULL, RELOAD},
    {"broker", "channelExpiredTimeout", CFG_I32, B(channel_expired_ms), 1000,
     86400000, "120000", NULL, RELOAD},
    {"broker", "flushConsumerOffsetInterval", CFG_I32,
     B(flush_offset_interval_ms), 100, 3600000, "5000", NULL, RELOAD},
    {"broker", "flushDelayOffsetInterval", CFG_I32,
     B(flush_delay_offset_interval_ms), 100, 3600000, "10000", NULL, RELOAD},
    {"broker", "maxTransferCountOnMessageInMemory", CFG_I32,
     B(max_transfer_count), 1, 65536, "32", NULL, RELOAD},
    {"broker", "maxTransferBytesOnMessageInMemory", CFG_I32,
     B(max_transfer_bytes), 1024, 64 * 1024 * 1024, "262144", NULL, RELOAD},
    {"broker", "putRingBytes", CFG_I64, B(put_ring_bytes), 1 << 20,
     INT64_C(4294967296), "33554432", NULL, FIXED},

    {"namesrv", "enabled", CFG_BOOL, N(enabled), NOLIM, "true", NULL, FIXED},
    {"namesrv", "listenPort", CFG_I32, N(listen_port), 1, 65535, "9876", NULL,
     FIXED},
    {"namesrv", "brokerChannelExpiredTime", CFG_I32, N(broker_expire_ms), 1000,
     86400000, "120000", NULL, RELOAD},

    {"supervisor", "runDir", CFG_PATH, S(run_dir), NOLIM, "var/run", NULL,
     FIXED},
    {"supervisor", "restartIntensity", CFG_I32, S(restart_intensity), 0, 1000,
     "5", NULL, RELOAD},
    {"supervisor", "restartPeriodSec", CFG_I32, S(restart_period_sec), 1, 86400,
     "30", NULL, RELOAD},
    {"supervisor", "heartbeatTimeoutSec", CFG_I32, S(heartbeat_timeout_sec), 1,
     3600, "10", NULL, RELOAD},
    {"supervisor", "startTimeoutSec", CFG_I32, S(start_timeout_sec), 1, 86400,
     "60", NULL, RELOAD},
    {"supervisor", "logLevel", CFG_ENUM, S(log_level), NOLIM, "info",
     cfg_level_names, RELOAD},
};

#define CFG_NKEYS RMQ_ARRAY_LEN(cfg_schema)

static const char *const cfg_groups[] = {"broker", "namesrv", "supervisor"};

/* Where each key was set (0 = default), for cross-key error messages. */
struct cfg_ctx {
    const char *name;
    int         line[CFG_NKEYS];
    char       *err;
    size_t      errcap;
};

static void *
cfg_field(rmq_config *cfg, const struct cfg_key *k)
{
    return (char *)cfg + k->offset;
}

static const void *
cfg_cfield(const rmq_config *cfg, const struct cfg_key *k)
{
    return (const char *)cfg + k->offset;
}

static int
cfg_fail(struct cfg_ctx *ctx, int line, const char *group, const char *key,
         const char *why)
{
    if (key != NULL) {
        snprintf(ctx->err, ctx->errcap, "%s:%d: %s.%s: %s", ctx->name, line,
                 group, key, why);
    } else {
        snprintf(ctx->err, ctx->errcap, "%s:%d: %s: %s", ctx->name, line, group,
                 why);
    }
    return RMQ_ERR_CONFIG;
}

static int
cfg_set_path(char *dst, size_t cap, const char *val)
{
    char cwd[PATH_MAX];
    int  n;

    if (val[0] == '/' || val[0] == '\0') {
        return rmq_strlcpy(dst, val, cap) ? 0 : RMQ_ERR_TOOBIG;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return RMQ_ERR_SYS;
    }
    n = snprintf(dst, cap, "%s/%s", cwd, val);
    return (n < 0 || (size_t)n >= cap) ? RMQ_ERR_TOOBIG : 0;
}

static int
cfg_set_enum(const struct cfg_key *k, int *dst, const char *val)
{
    for (int i = 0; k->names[i] != NULL; i++) {
        if (strcmp(k->names[i], val) == 0) {
            *dst = i;
            return 0;
        }
    }
    return RMQ_ERR_RANGE;
}

static int
cfg_set_int(const struct cfg_key *k, void *dst, long long v)
{
    if (k->min <= k->max) {
        if (v < k->min || v > k->max) {
            return RMQ_ERR_RANGE;
        }
    }
    if (k->type == CFG_I32) {
        if (v < INT32_MIN || v > INT32_MAX) {
            return RMQ_ERR_RANGE;
        }
        *(int32_t *)dst = (int32_t)v;
    } else {
        *(int64_t *)dst = v;
    }
    return 0;
}

/* Apply the textual default of one key. */
static void
cfg_apply_default(rmq_config *cfg, const struct cfg_key *k)
{
    void   *dst = cfg_field(cfg, k);
    int64_t v = 0;

    switch (k->type) {
    case CFG_STR:
        rmq_strlcpy(dst, k->def, k->size);
        break;
    case CFG_PATH:
        RMQ_ASSERT(cfg_set_path(dst, k->size, k->def) == 0);
        break;
    case CFG_I32:
    case CFG_I64:
        RMQ_ASSERT(rmq_parse_i64(k->def, &v) == 0);
        RMQ_ASSERT(cfg_set_int(k, dst, v) == 0);
        break;
    case CFG_BOOL:
        *(bool *)dst = strcmp(k->def, "true") == 0;
        break;
    case CFG_ENUM:
        RMQ_ASSERT(cfg_set_enum(k, dst, k->def) == 0);
        break;
    }
}

static const char *
cfg_type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_STR:
    case CFG_PATH:
    case CFG_ENUM:
        return "expected a string";
    case CFG_I32:
    case CFG_I64:
        return "expected an integer";
    case CFG_BOOL:
        return "expected true or false";
    }
    return "wrong type";
}

static int
cfg_read_value(struct cfg_ctx *ctx, rmq_config *cfg, const struct cfg_key *k,
               config_setting_t *s)
{
    void *dst = cfg_field(cfg, k);
    int   line = config_setting_source_line(s);
    int   t = config_setting_type(s);
    int   rc = 0;
    char  why[160];

    if (k->type == CFG_I32 || k->type == CFG_I64) {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
            return cfg_fail(ctx, line, k->group, k->key,
                            cfg_type_name(k->type));
        }
        rc = cfg_set_int(k, dst, config_setting_get_int64(s));
        if (rc != 0) {
            snprintf(why, sizeof(why), "value %lld out of range [%lld, %lld]",
                     (long long)config_setting_get_int64(s), (long long)k->min,
                     (long long)k->max);
            return cfg_fail(ctx, line, k->group, k->key, why);
        }
        return 0;
    }
    if (k->type == CFG_BOOL) {
        if (t != CONFIG_TYPE_BOOL) {
            return cfg_fail(ctx, line, k->group, k->key,
                            cfg_type_name(k->type));
        }
        *(bool *)dst = config_setting_get_bool(s) != 0;
        return 0;
    }
    if (t != CONFIG_TYPE_STRING) {
        return cfg_fail(ctx, line, k->group, k->key, cfg_type_name(k->type));
    }
    const char *val = config_setting_get_string(s);
    if (k->type == CFG_PATH && val[0] == '\0') {
        /* "" would become a path relative to nothing (mkdir "" fails late) */
        return cfg_fail(ctx, line, k->group, k->key, "must not be empty");
    }
    if (k->type == CFG_ENUM) {
        rc = cfg_set_enum(k, dst, val);
        if (rc != 0) {
            snprintf(why, sizeof(why), "unknown value \"%.64s\"", val);
            return cfg_fail(ctx, line, k->group, k->key, why);
        }
        return 0;
    }
    rc = k->type == CFG_PATH
             ? cfg_set_path(dst, k->size, val)
             : (rmq_strlcpy(dst, val, k->size) ? 0 : RMQ_ERR_TOOBIG);
    if (rc != 0) {
        snprintf(why, sizeof(why), "value too long (max %zu bytes)",
                 k->size - 1);
        return cfg_fail(ctx, line, k->group, k->key, why);
    }
    return 0;
}

static const struct cfg_key *
cfg_find(const char *group, const char *key, size_t *idx)
{
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        if (strcmp(cfg_schema[i].group, group) == 0 &&
            strcmp(cfg_schema[i].key, key) == 0) {
            *idx = i;
            return &cfg_schema[i];
        }
    }
    return NULL;
}

static int
cfg_read_group(struct cfg_ctx *ctx, rmq_config *cfg, config_setting_t *g)
{
    const char *gname = config_setting_name(g);
    int         n = config_setting_length(g);

    for (int i = 0; i < n; i++) {
        config_setting_t     *s = config_setting_get_elem(g, (unsigned)i);
        size_t                idx;
        const struct cfg_key *k = cfg_find(gname, config_setting_name(s), &idx);
        int                   rc;

        if (k == NULL) {
            return cfg_fail(ctx, config_setting_source_line(s), gname,
                            config_setting_name(s), "unknown key");
        }
        rc = cfg_read_value(ctx, cfg, k, s);
        if (rc != 0) {
            return rc;
        }
        ctx->line[idx] = config_setting_source_line(s);
    }
    return 0;
}

static int
cfg_read_root(struct cfg_ctx *ctx, rmq_config *cfg, config_t *lc)
{
    config_setting_t *root = config_root_setting(lc);
    int               n = config_setting_length(root);

    for (int i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(root, (unsigned)i);
        const char       *name = config_setting_name(g);
        int               line = config_setting_source_line(g);
        bool              known = false;
        int               rc;

        for (size_t j = 0; j < RMQ_ARRAY_LEN(cfg_groups); j++) {
            known = known || strcmp(name, cfg_groups[j]) == 0;
        }
        if (!known) {
            return cfg_fail(ctx, line, name, NULL, "unknown group");
        }
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
            return cfg_fail(ctx, line, name, NULL, "expected a group { ... }");
        }
        cfg->has_broker = cfg->has_broker || strcmp(name, "broker") == 0;
        cfg->has_namesrv = cfg->has_namesrv || strcmp(name, "namesrv") == 0;
        rc = cfg_read_group(ctx, cfg, g);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
cfg_line_of(struct cfg_ctx *ctx, const char *group, const char *key)
{
    size_t idx;

    return cfg_find(group, key, &idx) ? ctx->line[idx] : 0;
}

/* "1s 5s 10s 1m 1h 1d": each item a positive number and a unit. */
static int
cfg_parse_delays(rmq_broker_config *b)
{
    const char *p = b->delay_levels_text;
    int         n = 0;

    while (*p != '\0') {
        char   *end;
        int64_t unit;
        long    v;

        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || v <= 0 || errno != 0 || n >= RMQ_DELAY_LEVEL_MAX) {
            return RMQ_ERR_RANGE;
        }
        switch (*end) {
        case 's':
            unit = 1000;
            break;
        case 'm':
            unit = 60 * 1000;
            break;
        case 'h':
            unit = 3600 * 1000;
            break;
        case 'd':
            unit = 86400 * 1000;
            break;
        default:
            return RMQ_ERR_RANGE;
        }
        if (v > INT64_MAX / unit) {
            return RMQ_ERR_RANGE; /* would overflow int64 milliseconds */
        }
        b->delay_level_ms[n++] = (int64_t)v * unit;
        p = end + 1;
        if (*p != ' ' && *p != '\0') {
            return RMQ_ERR_RANGE;
        }
    }
    b->delay_level_count = n;
    return n > 0 ? 0 : RMQ_ERR_RANGE;
}

/*
 * The name server port equals the broker's listenPort or its fast port
 * (listenPort-2).  Name the key the file set: when the namesrv port is
 * only a default, the line to fix is the broker's listenPort.
 */
static int
cfg_port_clash(struct cfg_ctx *ctx, const rmq_config *cfg)
{
    char why[160];
    int  ns_line = cfg_line_of(ctx, "namesrv", "listenPort");

    if (ns_line > 0) {
        return cfg_fail(ctx, ns_line, "namesrv", "listenPort",
                        "clashes with broker listenPort or listenPort-2");
    }
    snprintf(why, sizeof(why),
             "listenPort or listenPort-2 clashes with namesrv listenPort %d",
             (int)cfg->namesrv.listen_port);
    return cfg_fail(ctx, cfg_line_of(ctx, "broker", "listenPort"), "broker",
                    "listenPort", why);
}

static int
cfg_validate(struct cfg_ctx *ctx, rmq_config *cfg)
{
    rmq_broker_config *b = &cfg->broker;

    if (!cfg->has_broker && !cfg->has_namesrv) {
        return cfg_fail(ctx, 1, "config", NULL,
                        "needs a broker or a namesrv group");
    }
    if (cfg->has_broker && b->cq_file_size % 20 != 0) {
        return cfg_fail(
            ctx, cfg_line_of(ctx, "broker", "mappedFileSizeConsumeQueue"),
            "broker", "mappedFileSizeConsumeQueue",
            "must be a multiple of 20 (the entry size)");
    }
    if (cfg->has_broker && b->broker_role != RMQ_ROLE_ASYNC_MASTER) {
        return cfg_fail(ctx, cfg_line_of(ctx, "broker", "brokerRole"), "broker",
                        "brokerRole",
                        "only ASYNC_MASTER is supported (no replicator yet)");
    }
    if (cfg_parse_delays(b) != 0) {
        return cfg_fail(ctx, cfg_line_of(ctx, "broker", "messageDelayLevel"),
                        "broker", "messageDelayLevel",
                        "expected space-separated delays like \"1s 5m 2h\" "
                        "(at most 32)");
    }
    if (cfg->has_broker && cfg->has_namesrv && cfg->namesrv.enabled &&
        (cfg->namesrv.listen_port == b->listen_port ||
         cfg->namesrv.listen_port == b->listen_port - 2)) {
        return cfg_port_clash(ctx, cfg);
    }
    return 0;
}

static int
cfg_load(config_t *lc, const char *name, rmq_config *out, char *err,
         size_t errcap)
{
    struct cfg_ctx ctx = {.name = name, .err = err, .errcap = errcap};
    rmq_config     cfg;
    int            rc;

    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        cfg_apply_default(&cfg, &cfg_schema[i]);
    }
    rc = cfg_read_root(&ctx, &cfg, lc);
    if (rc == 0) {
        rc = cfg_validate(&ctx, &cfg);
    }
    if (rc == 0) {
        *out = cfg;
    }
    return rc;
}

static int
cfg_syntax_error(config_t *lc, const char *name, char *err, size_t errcap)
{
    if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
        snprintf(err, errcap, "%s: cannot read file", name);
    } else {
        snprintf(err, errcap, "%s:%d: %s", name, config_error_line(lc),
                 config_error_text(lc));
    }
    return RMQ_ERR_CONFIG;
}

int
rmq_config_load_file(const char *path, rmq_config *out, char *err,
                     size_t errcap)
{
    config_t lc;
    int      rc;

    config_init(&lc);
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        rc = cfg_syntax_error(&lc, path, err, errcap);
    } else {
        rc = cfg_load(&lc, path, out, err, errcap);
    }
    config_destroy(&lc);
    return rc;
}

int
rmq_config_load_string(const char *text, const char *name, rmq_config *out,
                       char *err, size_t errcap)
{
    config_t lc;
    int      rc;

    config_init(&lc);
    if (config_read_string(&lc, text) != CONFIG_TRUE) {
        rc = cfg_syntax_error(&lc, name, err, errcap);
    } else {
        rc = cfg_load(&lc, name, out, err, errcap);
    }
    config_destroy(&lc);
    return rc;
}

static void
cfg_print_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
    fputc('"', out);
}

static void
cfg_print_value(FILE *out, const rmq_config *cfg, const struct cfg_key *k)
{
    const void *src = cfg_cfield(cfg, k);

    switch (k->type) {
    case CFG_STR:
    case CFG_PATH:
        cfg_print_string(out, src);
        break;
    case CFG_I32:
        fprintf(out, "%d", (int)*(const int32_t *)src);
        break;
    case CFG_I64:
        fprintf(out, "%lldL", (long long)*(const int64_t *)src);
        break;
    case CFG_BOOL:
        fputs(*(const bool *)src ? "true" : "false", out);
        break;
    case CFG_ENUM:
        cfg_print_string(out, k->names[*(const int *)src]);
        break;
    }
}

static bool
cfg_group_present(const rmq_config *cfg, const char *group)
{
    if (strcmp(group, "broker") == 0) {
        return cfg->has_broker;
    }
    if (strcmp(group, "namesrv") == 0) {
        return cfg->has_namesrv;
    }
    return true;
}

void
rmq_config_print(const rmq_config *cfg, FILE *out)
{
    fputs("# rmq effective configuration: every key, defaults included\n", out);
    for (size_t g = 0; g < RMQ_ARRAY_LEN(cfg_groups); g++) {
        if (!cfg_group_present(cfg, cfg_groups[g])) {
            continue;
        }
        fprintf(out, "%s = {\n", cfg_groups[g]);
        for (size_t i = 0; i < CFG_NKEYS; i++) {
            if (strcmp(cfg_schema[i].group, cfg_groups[g]) != 0) {
                continue;
            }
            fprintf(out, "    %s = ", cfg_schema[i].key);
            cfg_print_value(out, cfg, &cfg_schema[i]);
            fputs(";\n", out);
        }
        fputs("};\n", out);
    }
}

char *
rmq_config_to_string(const rmq_config *cfg)
{
    char  *text = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&text, &len);

    if (f == NULL) {
        return NULL;
    }
    rmq_config_print(cfg, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static bool
cfg_same(const rmq_config *a, const rmq_config *b, const struct cfg_key *k)
{
    const void *x = cfg_cfield(a, k);
    const void *y = cfg_cfield(b, k);

    if (k->type == CFG_STR || k->type == CFG_PATH) {
        return strcmp(x, y) == 0;
    }
    return memcmp(x, y, k->size) == 0;
}

int
rmq_config_apply_reload(rmq_config *cur, const rmq_config *next)
{
    int changed = 0;

    if (cur->has_broker != next->has_broker ||
        cur->has_namesrv != next->has_namesrv) {
        rmq_log(RMQ_LOG_WARN, "config.reload",
                "adding or removing a broker or namesrv group needs a restart; "
                "ignored");
    }
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_key *k = &cfg_schema[i];

        if (cfg_same(cur, next, k)) {
            continue;
        }
        if (!k->reloadable) {
            rmq_log(RMQ_LOG_WARN, "config.reload",
                    "%s.%s cannot change at run time; restart to apply it",
                    k->group, k->key);
            continue;
        }
        memcpy(cfg_field(cur, k), cfg_cfield(next, k), k->size);
        rmq_log(RMQ_LOG_INFO, "config.reload", "%s.%s changed", k->group,
                k->key);
        changed++;
    }
    return changed;
}

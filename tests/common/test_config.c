/*
 * test_config.c - suite common.config: the libconfig loader, printer and
 * reload merge of common/config.c, plus `rmq-supervisor -c FILE -p` run as
 * a real program.  Each test gets a fresh temp dir for its files.
 */
#include "common/config.h"

#include "common/err.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;
static char *path; /* <dir>/rmq.conf */
static char  err[1024];

static void
cfg_setup(void)
{
    dir = rmqtest_mkdtemp("config");
    path = rmqtest_strf("%s/rmq.conf", dir);
    err[0] = '\0';
}

static void
cfg_teardown(void)
{
    rmqtest_rm_rf(dir);
    free(dir);
    free(path);
}

/* Load text through a file, as the supervisor does. */
static int
cfg_load_text(const char *text, rmq_config *out)
{
    rmqtest_write_file(path, "%s", text);
    memset(out, 0, sizeof(*out));
    return rmq_config_load_file(path, out, err, sizeof(err));
}

/*
 * The text must fail with exactly "<path>:<line>: <key>: ..." and the
 * reason somewhere after it, on one line.
 */
static void
cfg_expect_error(const char *text, int line, const char *key,
                 const char *reason)
{
    rmq_config cfg;
    char      *want = rmqtest_strf("%s:%d: %s: ", path, line, key);

    ck_assert_int_eq(cfg_load_text(text, &cfg), RMQ_ERR_CONFIG);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                  "error \"%s\" does not start with \"%s\"", err, want);
    ck_assert_msg(strstr(err + strlen(want), reason) != NULL,
                  "error \"%s\" does not say \"%s\"", err, reason);
    ck_assert_ptr_null(strchr(err, '\n'));
    free(want);
}

static void
cfg_expect_ok(const char *text, rmq_config *cfg)
{
    ck_assert_msg(cfg_load_text(text, cfg) == 0, "unexpected error: %s", err);
}

/* Same semantic content: every printed key, the groups, derived values. */
static void
cfg_assert_same(const rmq_config *a, const rmq_config *b)
{
    char *ta = rmq_config_to_string(a);
    char *tb = rmq_config_to_string(b);

    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_nonnull(tb);
    ck_assert_str_eq(ta, tb);
    ck_assert_int_eq(a->has_broker, b->has_broker);
    ck_assert_int_eq(a->has_namesrv, b->has_namesrv);
    ck_assert_int_eq(a->broker.delay_level_count, b->broker.delay_level_count);
    ck_assert_mem_eq(a->broker.delay_level_ms, b->broker.delay_level_ms,
                     sizeof(a->broker.delay_level_ms));
    free(ta);
    free(tb);
}

static char *
cfg_cwd_path(const char *rel)
{
    char cwd[PATH_MAX];

    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    return rmqtest_strf("%s/%s", cwd, rel);
}

/* ---- defaults ---------------------------------------------------------- */

START_TEST(test_config_default_file_parses)
{
    char *etc = rmqtest_strf("%s/etc/rmq.conf", rmqtest_env("RMQ_SOURCE_DIR"));
    rmq_config cfg;

    ck_assert_msg(rmq_config_load_file(etc, &cfg, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert(cfg.has_broker);
    ck_assert(cfg.has_namesrv);
    ck_assert_int_eq(cfg.broker.listen_port, 10911);
    ck_assert_int_eq(cfg.namesrv.listen_port, 9876);
    free(etc);
}
END_TEST

START_TEST(test_config_embedded_default_parses_and_equals_the_file)
{
    char *etc = rmqtest_strf("%s/etc/rmq.conf", rmqtest_env("RMQ_SOURCE_DIR"));
    rmq_config from_file, embedded;

    ck_assert_msg(rmq_config_load_string(rmq_default_conf, "<embedded>",
                                         &embedded, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(rmq_config_load_file(etc, &from_file, err, sizeof(err)),
                     0);
    cfg_assert_same(&from_file, &embedded);
    free(etc);
}
END_TEST

START_TEST(test_config_absent_keys_get_their_defaults)
{
    rmq_config cfg;
    char      *run = cfg_cwd_path("var/run");
    char      *store = cfg_cwd_path("var/store");

    cfg_expect_ok("namesrv = {};\n", &cfg);
    ck_assert(cfg.has_namesrv);
    ck_assert(!cfg.has_broker);
    ck_assert_str_eq(cfg.broker.cluster_name, "DefaultCluster");
    ck_assert_str_eq(cfg.broker.broker_name, "broker-a");
    ck_assert_int_eq(cfg.broker.broker_id, 0);
    ck_assert_str_eq(cfg.broker.broker_ip1, "");
    ck_assert_int_eq(cfg.broker.listen_port, 10911);
    ck_assert_str_eq(cfg.broker.namesrv_addr, "127.0.0.1:9876");
    ck_assert_str_eq(cfg.broker.store_root, store);
    ck_assert_int_eq(cfg.broker.flush_disk_type, RMQ_FLUSH_ASYNC);
    ck_assert_int_eq(cfg.broker.broker_role, RMQ_ROLE_ASYNC_MASTER);
    ck_assert(cfg.broker.auto_create_topic);
    ck_assert(cfg.broker.auto_create_group);
    ck_assert_int_eq(cfg.broker.default_topic_queue_nums, 8);
    ck_assert_int_eq(cfg.broker.broker_permission, 6);
    ck_assert_int_eq(cfg.broker.commitlog_file_size, 1073741824);
    ck_assert_int_eq(cfg.broker.cq_file_size, 6000000);
    ck_assert_int_eq(cfg.broker.max_message_size, 4194304);
    ck_assert_int_eq(cfg.broker.flush_interval_cl_ms, 500);
    ck_assert_int_eq(cfg.broker.sync_flush_timeout_ms, 5000);
    ck_assert(cfg.broker.check_crc_on_recover);
    ck_assert(cfg.broker.long_polling_enable);
    ck_assert_int_eq(cfg.broker.put_ring_bytes, 33554432);
    ck_assert_int_eq(cfg.broker.delay_level_count, 18);
    ck_assert_int_eq(cfg.broker.delay_level_ms[0], 1000);
    ck_assert_int_eq(cfg.broker.delay_level_ms[4], 60000);
    ck_assert_int_eq(cfg.broker.delay_level_ms[17], 2 * 3600 * 1000);
    ck_assert(cfg.namesrv.enabled);
    ck_assert_int_eq(cfg.namesrv.listen_port, 9876);
    ck_assert_int_eq(cfg.namesrv.broker_expire_ms, 120000);
    ck_assert_str_eq(cfg.supervisor.run_dir, run);
    ck_assert_int_eq(cfg.supervisor.restart_intensity, 5);
    ck_assert_int_eq(cfg.supervisor.restart_period_sec, 30);
    ck_assert_int_eq(cfg.supervisor.heartbeat_timeout_sec, 10);
    ck_assert_int_eq(cfg.supervisor.start_timeout_sec, 60);
    ck_assert_int_eq(cfg.supervisor.log_level, 2 /* info */);
    free(run);
    free(store);
}
END_TEST

START_TEST(test_config_relative_paths_are_made_absolute)
{
    rmq_config cfg;
    char      *run = cfg_cwd_path("some/run");

    cfg_expect_ok("broker = { storePathRootDir = \"/abs/store\"; };\n"
                  "supervisor = { runDir = \"some/run\"; };\n",
                  &cfg);
    ck_assert_str_eq(cfg.supervisor.run_dir, run);
    ck_assert_str_eq(cfg.broker.store_root, "/abs/store");
    free(run);
}
END_TEST

START_TEST(test_config_broker_only_and_namesrv_only_files_are_valid)
{
    rmq_config cfg;

    cfg_expect_ok("broker = {};\n", &cfg);
    ck_assert(cfg.has_broker && !cfg.has_namesrv);
    cfg_expect_ok("namesrv = { listenPort = 19876; };\n", &cfg);
    ck_assert(!cfg.has_broker && cfg.has_namesrv);
}
END_TEST

START_TEST(test_config_delay_levels_parse_every_unit)
{
    rmq_config cfg;

    cfg_expect_ok("broker = { messageDelayLevel = \" 2s  3m 4h 5d \"; };\n",
                  &cfg);
    ck_assert_int_eq(cfg.broker.delay_level_count, 4);
    ck_assert_int_eq(cfg.broker.delay_level_ms[0], 2000);
    ck_assert_int_eq(cfg.broker.delay_level_ms[1], 3 * 60000);
    ck_assert_int_eq(cfg.broker.delay_level_ms[2], 4 * 3600000LL);
    ck_assert_int_eq(cfg.broker.delay_level_ms[3], 5 * 86400000LL);
}
END_TEST

START_TEST(test_config_string_loader_names_its_source_in_errors)
{
    rmq_config cfg;

    ck_assert_int_eq(rmq_config_load_string("namesrv = {\n  port = 1;\n};\n",
                                            "<my source>", &cfg, err,
                                            sizeof(err)),
                     RMQ_ERR_CONFIG);
    ck_assert_str_eq(err, "<my source>:2: namesrv.port: unknown key");
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(test_config_unknown_key_names_file_line_and_key)
{
    cfg_expect_error("# comment\nbroker = {\n    bogusKey = 1;\n};\n", 3,
                     "broker.bogusKey", "unknown key");
}
END_TEST

START_TEST(test_config_key_names_are_case_sensitive)
{
    cfg_expect_error("broker = {\n    ListenPort = 10911;\n};\n", 2,
                     "broker.ListenPort", "unknown key");
}
END_TEST

START_TEST(test_config_unknown_group_names_file_line_and_group)
{
    cfg_expect_error("namesrv = {};\n\nbrokr = { listenPort = 1; };\n", 3,
                     "brokr", "unknown group");
}
END_TEST

START_TEST(test_config_group_given_as_a_scalar_is_rejected)
{
    cfg_expect_error("namesrv = {};\nbroker = 5;\n", 2, "broker",
                     "expected a group");
}
END_TEST

START_TEST(test_config_string_for_an_int_is_a_type_error)
{
    cfg_expect_error(
        "broker = {\n  brokerName = \"b\";\n  listenPort = \"10911\";\n};\n", 3,
        "broker.listenPort", "expected an integer");
}
END_TEST

START_TEST(test_config_float_for_an_int_is_a_type_error)
{
    cfg_expect_error(
        "supervisor = {\n  restartIntensity = 2.5;\n};\nnamesrv = {};\n", 2,
        "supervisor.restartIntensity", "expected an integer");
}
END_TEST

START_TEST(test_config_list_for_an_int_is_a_type_error)
{
    cfg_expect_error("namesrv = {\n  listenPort = [ 1, 2 ];\n};\n", 2,
                     "namesrv.listenPort", "expected an integer");
}
END_TEST

START_TEST(test_config_group_for_an_int_is_a_type_error)
{
    cfg_expect_error("namesrv = {\n  listenPort = { a = 1; };\n};\n", 2,
                     "namesrv.listenPort", "expected an integer");
}
END_TEST

START_TEST(test_config_int_for_a_bool_is_a_type_error)
{
    cfg_expect_error("broker = {\n\n  autoCreateTopicEnable = 1;\n};\n", 3,
                     "broker.autoCreateTopicEnable", "expected true or false");
}
END_TEST

START_TEST(test_config_string_for_a_bool_is_a_type_error)
{
    cfg_expect_error("namesrv = {\n  enabled = \"true\";\n};\n", 2,
                     "namesrv.enabled", "expected true or false");
}
END_TEST

START_TEST(test_config_bool_for_a_string_is_a_type_error)
{
    cfg_expect_error("broker = {\n  brokerName = true;\n};\n", 2,
                     "broker.brokerName", "expected a string");
}
END_TEST

START_TEST(test_config_int_for_an_enum_is_a_type_error)
{
    cfg_expect_error("broker = {\n  flushDiskType = 1;\n};\n", 2,
                     "broker.flushDiskType", "expected a string");
}
END_TEST

START_TEST(test_config_value_above_max_is_out_of_range)
{
    cfg_expect_error("broker = {\n  listenPort = 70000;\n};\n", 2,
                     "broker.listenPort",
                     "value 70000 out of range [3, 65534]");
}
END_TEST

START_TEST(test_config_value_below_min_is_out_of_range)
{
    cfg_expect_error(
        "namesrv = {};\nsupervisor = {\n  restartIntensity = -1;\n};\n", 3,
        "supervisor.restartIntensity", "out of range [0, 1000]");
}
END_TEST

START_TEST(test_config_int64_value_above_max_is_out_of_range)
{
    cfg_expect_error(
        "broker = {\n  mappedFileSizeCommitLog = 68719476737L;\n};\n", 2,
        "broker.mappedFileSizeCommitLog", "out of range");
}
END_TEST

START_TEST(test_config_nonzero_broker_id_is_out_of_range)
{
    cfg_expect_error("broker = {\n  brokerId = 1;\n};\n", 2, "broker.brokerId",
                     "out of range [0, 0]");
}
END_TEST

START_TEST(test_config_unknown_enum_value_is_rejected)
{
    cfg_expect_error("broker = {\n  flushDiskType = \"ASYNC\";\n};\n", 2,
                     "broker.flushDiskType", "unknown value \"ASYNC\"");
}
END_TEST

START_TEST(test_config_unknown_log_level_is_rejected)
{
    cfg_expect_error(
        "namesrv = {};\nsupervisor = { logLevel = \"verbose\"; };\n", 2,
        "supervisor.logLevel", "unknown value");
}
END_TEST

START_TEST(test_config_string_longer_than_its_field_is_rejected)
{
    char  name[400];
    char *text;

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    text = rmqtest_strf("broker = {\n  brokerName = \"%s\";\n};\n", name);
    cfg_expect_error(text, 2, "broker.brokerName",
                     "value too long (max 255 bytes)");
    free(text);
}
END_TEST

START_TEST(test_config_string_of_exactly_max_length_is_accepted)
{
    char       name[256];
    char      *text;
    rmq_config cfg;

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    text = rmqtest_strf("broker = { brokerName = \"%s\"; };\n", name);
    cfg_expect_ok(text, &cfg);
    ck_assert_str_eq(cfg.broker.broker_name, name);
    free(text);
}
END_TEST

START_TEST(test_config_syntax_error_names_its_line)
{
    rmq_config cfg;
    char      *want = rmqtest_strf("%s:4: ", path);

    ck_assert_int_eq(cfg_load_text("# one\nbroker = {\n  brokerName = \"x\";\n"
                                   "  listenPort 10911;\n};\n",
                                   &cfg),
                     RMQ_ERR_CONFIG);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error: %s", err);
    ck_assert_ptr_nonnull(strstr(err, "syntax error"));
    free(want);
}
END_TEST

START_TEST(test_config_unterminated_group_is_a_syntax_error)
{
    rmq_config cfg;

    ck_assert_int_eq(cfg_load_text("broker = {\n  brokerName = \"x\";\n", &cfg),
                     RMQ_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(test_config_missing_file_is_reported)
{
    rmq_config cfg;
    char      *missing = rmqtest_strf("%s/nope.conf", dir);
    char      *want = rmqtest_strf("%s: cannot read file", missing);

    ck_assert_int_eq(rmq_config_load_file(missing, &cfg, err, sizeof(err)),
                     RMQ_ERR_CONFIG);
    ck_assert_str_eq(err, want);
    free(missing);
    free(want);
}
END_TEST

START_TEST(test_config_file_without_broker_or_namesrv_is_rejected)
{
    rmq_config cfg;

    ck_assert_int_eq(cfg_load_text("supervisor = {};\n", &cfg), RMQ_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "needs a broker or a namesrv group"));
    ck_assert_int_eq(cfg_load_text("", &cfg), RMQ_ERR_CONFIG);
}
END_TEST

START_TEST(test_config_cq_file_size_not_multiple_of_20_is_rejected)
{
    cfg_expect_error("broker = {\n  brokerName = \"b\";\n"
                     "  mappedFileSizeConsumeQueue = 6000010;\n};\n",
                     3, "broker.mappedFileSizeConsumeQueue", "multiple of 20");
}
END_TEST

START_TEST(test_config_cq_file_size_is_not_checked_without_broker)
{
    rmq_config cfg;

    /* the broker group is absent: its keys keep their defaults anyway */
    cfg_expect_ok("namesrv = {};\n", &cfg);
    ck_assert_int_eq(cfg.broker.cq_file_size % 20, 0);
}
END_TEST

START_TEST(test_config_slave_role_is_rejected_for_now)
{
    cfg_expect_error("broker = {\n  brokerRole = \"SLAVE\";\n};\n", 2,
                     "broker.brokerRole", "only ASYNC_MASTER");
}
END_TEST

START_TEST(test_config_namesrv_port_equal_to_broker_port_is_rejected)
{
    cfg_expect_error("broker = {\n  listenPort = 20911;\n};\n"
                     "namesrv = {\n  listenPort = 20911;\n};\n",
                     5, "namesrv.listenPort", "clashes with broker listenPort");
}
END_TEST

START_TEST(test_config_namesrv_port_equal_to_broker_fast_port_is_rejected)
{
    cfg_expect_error("broker = {\n  listenPort = 20911;\n};\n"
                     "namesrv = {\n  listenPort = 20909;\n};\n",
                     5, "namesrv.listenPort", "listenPort-2");
}
END_TEST

START_TEST(test_config_port_clash_from_a_default_names_the_line_that_was_set)
{
    /* namesrv keeps its default 9876 = 9878 - 2: name the broker's line */
    cfg_expect_error("namesrv = {};\nbroker = {\n  listenPort = 9878;\n};\n", 3,
                     "broker.listenPort", "clashes");
}
END_TEST

START_TEST(test_config_port_clash_is_ignored_when_namesrv_is_disabled)
{
    rmq_config cfg;

    cfg_expect_ok("broker = { listenPort = 20911; };\n"
                  "namesrv = { enabled = false; listenPort = 20911; };\n",
                  &cfg);
    ck_assert(!cfg.namesrv.enabled);
}
END_TEST

START_TEST(test_config_bad_delay_level_unit_is_rejected)
{
    cfg_expect_error(
        "namesrv = {};\nbroker = {\n  messageDelayLevel = \"1s 5x\";\n};\n", 3,
        "broker.messageDelayLevel", "space-separated delays");
}
END_TEST

START_TEST(test_config_zero_or_empty_delay_levels_are_rejected)
{
    cfg_expect_error("broker = {\n  messageDelayLevel = \"0s\";\n};\n", 2,
                     "broker.messageDelayLevel", "delays");
    cfg_expect_error("broker = {\n  messageDelayLevel = \"\";\n};\n", 2,
                     "broker.messageDelayLevel", "delays");
    cfg_expect_error("broker = {\n  messageDelayLevel = \"5\";\n};\n", 2,
                     "broker.messageDelayLevel", "delays");
}
END_TEST

START_TEST(test_config_more_than_32_delay_levels_are_rejected)
{
    char  levels[200] = "";
    char *text;

    for (int i = 0; i < 33; i++) {
        strcat(levels, "1s ");
    }
    text =
        rmqtest_strf("broker = {\n  messageDelayLevel = \"%s\";\n};\n", levels);
    cfg_expect_error(text, 2, "broker.messageDelayLevel", "at most 32");
    free(text);
}
END_TEST

START_TEST(test_config_delay_level_overflowing_milliseconds_is_rejected)
{
    /* 10^12 days in ms does not fit 64 bits: an error, never a wrap */
    cfg_expect_error(
        "broker = {\n  messageDelayLevel = \"1s 1000000000000d\";\n};\n", 2,
        "broker.messageDelayLevel", "delays");
}
END_TEST

START_TEST(test_config_empty_run_dir_is_rejected)
{
    cfg_expect_error("namesrv = {};\nsupervisor = {\n  runDir = \"\";\n};\n", 3,
                     "supervisor.runDir", "must not be empty");
}
END_TEST

START_TEST(test_config_empty_store_dir_is_rejected)
{
    cfg_expect_error("broker = {\n  storePathRootDir = \"\";\n};\n", 2,
                     "broker.storePathRootDir", "must not be empty");
}
END_TEST

/* ---- print (-p) -------------------------------------------------------- */

/* Every key of the schema with a non-default value and its printed form. */
static const struct cfg_every {
    const char *group, *key, *value, *printed;
} cfg_every[] = {
    {"broker", "brokerClusterName", "\"TestCluster\"", "\"TestCluster\""},
    {"broker", "brokerName", "\"broker-t\"", "\"broker-t\""},
    {"broker", "brokerId", "0", "0L"},
    {"broker", "brokerIP1", "\"127.0.0.2\"", "\"127.0.0.2\""},
    {"broker", "listenPort", "20911", "20911"},
    {"broker", "namesrvAddr", "\"127.0.0.1:19876;127.0.0.2:19876\"",
     "\"127.0.0.1:19876;127.0.0.2:19876\""},
    {"broker", "storePathRootDir", "\"/tmp/rmq-x/store\"",
     "\"/tmp/rmq-x/store\""},
    {"broker", "flushDiskType", "\"SYNC_FLUSH\"", "\"SYNC_FLUSH\""},
    {"broker", "brokerRole", "\"ASYNC_MASTER\"", "\"ASYNC_MASTER\""},
    {"broker", "autoCreateTopicEnable", "false", "false"},
    {"broker", "autoCreateSubscriptionGroup", "false", "false"},
    {"broker", "defaultTopicQueueNums", "4", "4"},
    {"broker", "brokerPermission", "7", "7"},
    {"broker", "mappedFileSizeCommitLog", "2147483648L", "2147483648L"},
    {"broker", "mappedFileSizeConsumeQueue", "600000", "600000L"},
    {"broker", "maxMessageSize", "1048576", "1048576"},
    {"broker", "flushIntervalCommitLog", "250", "250"},
    {"broker", "flushCommitLogLeastPages", "8", "8"},
    {"broker", "flushCommitLogThoroughInterval", "20000", "20000"},
    {"broker", "flushIntervalConsumeQueue", "2000", "2000"},
    {"broker", "flushConsumeQueueLeastPages", "3", "3"},
    {"broker", "syncFlushTimeout", "3000", "3000"},
    {"broker", "checkCRCOnRecover", "false", "false"},
    {"broker", "messageDelayLevel", "\"1s 2s 1m 1h 1d\"", "\"1s 2s 1m 1h 1d\""},
    {"broker", "longPollingEnable", "false", "false"},
    {"broker", "shortPollingTimeMills", "500", "500"},
    {"broker", "registerNameServerPeriod", "10000", "10000"},
    {"broker", "serverChannelMaxIdleTimeSeconds", "60", "60"},
    {"broker", "channelExpiredTimeout", "60000", "60000"},
    {"broker", "flushConsumerOffsetInterval", "1000", "1000"},
    {"broker", "flushDelayOffsetInterval", "2000", "2000"},
    {"broker", "maxTransferCountOnMessageInMemory", "64", "64"},
    {"broker", "maxTransferBytesOnMessageInMemory", "524288", "524288"},
    {"broker", "putRingBytes", "67108864L", "67108864L"},
    {"namesrv", "enabled", "false", "false"},
    {"namesrv", "listenPort", "19876", "19876"},
    {"namesrv", "brokerChannelExpiredTime", "60000", "60000"},
    {"supervisor", "runDir", "\"/tmp/rmq-x/run\"", "\"/tmp/rmq-x/run\""},
    {"supervisor", "restartIntensity", "7", "7"},
    {"supervisor", "restartPeriodSec", "60", "60"},
    {"supervisor", "heartbeatTimeoutSec", "5", "5"},
    {"supervisor", "startTimeoutSec", "30", "30"},
    {"supervisor", "logLevel", "\"debug\"", "\"debug\""},
};
#define CFG_NEVERY (sizeof(cfg_every) / sizeof(cfg_every[0]))

/* Write a file setting every key of cfg_every. */
static void
cfg_write_every(void)
{
    FILE       *f = fopen(path, "w");
    const char *group = NULL;

    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < CFG_NEVERY; i++) {
        if (group == NULL || strcmp(group, cfg_every[i].group) != 0) {
            fprintf(f, "%s%s = {\n", group ? "};\n" : "", cfg_every[i].group);
            group = cfg_every[i].group;
        }
        fprintf(f, "    %s = %s;\n", cfg_every[i].key, cfg_every[i].value);
    }
    fprintf(f, "};\n");
    ck_assert_int_eq(fclose(f), 0);
}

/* Run `rmq-supervisor -c FILE -p`; returns its stdout (malloc'd). */
static char *
cfg_print_with_binary(const char *file)
{
    const char *argv[] = {rmqtest_env("RMQ_SUPERVISOR_BIN"), "-c", file, "-p",
                          NULL};
    rmqtest_out r;
    char       *out;

    rmqtest_run(&r, argv, NULL, 10000);
    ck_assert_msg(r.code == 0, "-p exited %d: %s", r.code, r.err);
    out = r.out;
    r.out = NULL;
    rmqtest_out_free(&r);
    return out;
}

/* The printed value of group.key in -p output, or NULL. */
static char *
cfg_printed_value(const char *out, const char *group, const char *key)
{
    char       *grp = rmqtest_strf("%s = {\n", group);
    char       *line = rmqtest_strf("\n    %s = ", key);
    const char *g = strstr(out, grp);
    const char *end = g ? strstr(g, "\n};") : NULL;
    const char *k = g ? strstr(g, line) : NULL;
    char       *val = NULL;

    if (k != NULL && k < end) {
        const char *v = k + strlen(line);
        const char *semi = strstr(v, ";\n");
        val = semi ? strndup(v, (size_t)(semi - v)) : NULL;
    }
    free(grp);
    free(line);
    return val;
}

START_TEST(test_config_print_shows_every_key_with_its_value)
{
    char *out;
    int   keys = 0;

    cfg_write_every();
    out = cfg_print_with_binary(path);
    for (size_t i = 0; i < CFG_NEVERY; i++) {
        char *v = cfg_printed_value(out, cfg_every[i].group, cfg_every[i].key);

        ck_assert_msg(v != NULL, "%s.%s missing from -p output:\n%s",
                      cfg_every[i].group, cfg_every[i].key, out);
        ck_assert_msg(strcmp(v, cfg_every[i].printed) == 0,
                      "%s.%s printed as %s, want %s", cfg_every[i].group,
                      cfg_every[i].key, v, cfg_every[i].printed);
        free(v);
    }
    /* and nothing else: a key added to the schema must be added here */
    for (const char *p = out; (p = strstr(p, "\n    ")) != NULL; p++) {
        keys++;
    }
    ck_assert_int_eq(keys, (int)CFG_NEVERY);
    free(out);
}
END_TEST

START_TEST(test_config_printed_output_parses_back_to_the_same_config)
{
    rmq_config orig, back;
    char      *out;

    cfg_write_every();
    ck_assert_msg(rmq_config_load_file(path, &orig, err, sizeof(err)) == 0,
                  "%s", err);
    out = cfg_print_with_binary(path);
    ck_assert_msg(
        rmq_config_load_string(out, "<printed>", &back, err, sizeof(err)) == 0,
        "printed output does not parse: %s\n%s", err, out);
    cfg_assert_same(&orig, &back);
    free(out);
}
END_TEST

START_TEST(test_config_print_of_defaults_parses_back_to_the_same_config)
{
    rmq_config orig, back;
    char      *out;

    rmqtest_write_file(path, "broker = {};\nnamesrv = {};\n");
    ck_assert_int_eq(rmq_config_load_file(path, &orig, err, sizeof(err)), 0);
    out = cfg_print_with_binary(path);
    ck_assert_msg(
        rmq_config_load_string(out, "<printed>", &back, err, sizeof(err)) == 0,
        "%s", err);
    cfg_assert_same(&orig, &back);
    free(out);
}
END_TEST

START_TEST(test_config_print_omits_absent_groups)
{
    char *out;

    rmqtest_write_file(path, "namesrv = { listenPort = 19876; };\n");
    out = cfg_print_with_binary(path);
    ck_assert_ptr_null(strstr(out, "broker = {"));
    ck_assert_ptr_nonnull(strstr(out, "namesrv = {"));
    ck_assert_ptr_nonnull(strstr(out, "supervisor = {"));
    free(out);
}
END_TEST

START_TEST(test_config_printed_strings_with_quotes_and_escapes_round_trip)
{
    rmq_config orig, back;
    char      *text;

    cfg_expect_ok(
        "broker = {\n"
        "  brokerName = \"q\\\"uote b\\\\slash\\nnl\\ttab \xc3\xa9\";\n"
        "  brokerClusterName = \"\\\\\";\n"
        "};\n",
        &orig);
    ck_assert_str_eq(orig.broker.broker_name,
                     "q\"uote b\\slash\nnl\ttab \xc3\xa9");
    ck_assert_str_eq(orig.broker.cluster_name, "\\");
    text = rmq_config_to_string(&orig);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(
        rmq_config_load_string(text, "<printed>", &back, err, sizeof(err)) == 0,
        "%s\n%s", err, text);
    cfg_assert_same(&orig, &back);
    free(text);
}
END_TEST

START_TEST(test_config_print_with_bad_file_exits_2_naming_file_line_and_key)
{
    const char *argv[] = {rmqtest_env("RMQ_SUPERVISOR_BIN"), "-c", path, "-p",
                          NULL};
    char       *want = rmqtest_strf("%s:2: broker.listenPort: ", path);
    rmqtest_out r;

    rmqtest_write_file(path, "broker = {\n  listenPort = true;\n};\n");
    rmqtest_run(&r, argv, NULL, 10000);
    ck_assert_int_eq(r.code, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(strstr(r.err, want) != NULL, "stderr: %s", r.err);
    rmqtest_out_free(&r);
    free(want);
}
END_TEST

/* ---- reload ------------------------------------------------------------ */

static const char cfg_reload_base[] =
    "broker = { brokerName = \"b1\"; listenPort = 20911;\n"
    "           defaultTopicQueueNums = 8; autoCreateTopicEnable = true; };\n"
    "namesrv = { listenPort = 19876; };\n"
    "supervisor = { runDir = \"/tmp/r1\"; restartIntensity = 5;\n"
    "               logLevel = \"info\"; };\n";

START_TEST(test_config_reload_changes_reloadable_keys)
{
    rmq_config cur, next;

    cfg_expect_ok(cfg_reload_base, &cur);
    cfg_expect_ok("broker = { brokerName = \"b1\"; listenPort = 20911;\n"
                  "           defaultTopicQueueNums = 16;\n"
                  "           autoCreateTopicEnable = false; };\n"
                  "namesrv = { listenPort = 19876; };\n"
                  "supervisor = { runDir = \"/tmp/r1\"; restartIntensity = 9;\n"
                  "               logLevel = \"debug\"; };\n",
                  &next);
    ck_assert_int_eq(rmq_config_apply_reload(&cur, &next), 4);
    ck_assert_int_eq(cur.broker.default_topic_queue_nums, 16);
    ck_assert(!cur.broker.auto_create_topic);
    ck_assert_int_eq(cur.supervisor.restart_intensity, 9);
    ck_assert_int_eq(cur.supervisor.log_level, 3 /* debug */);
    cfg_assert_same(&cur, &next);
}
END_TEST

START_TEST(test_config_reload_keeps_fixed_keys)
{
    rmq_config cur, next;

    cfg_expect_ok(cfg_reload_base, &cur);
    cfg_expect_ok("broker = { brokerName = \"b2\"; listenPort = 20999;\n"
                  "           defaultTopicQueueNums = 8;\n"
                  "           autoCreateTopicEnable = true; };\n"
                  "namesrv = { listenPort = 19877; };\n"
                  "supervisor = { runDir = \"/tmp/r2\"; restartIntensity = 6;\n"
                  "               logLevel = \"info\"; };\n",
                  &next);
    ck_assert_int_eq(rmq_config_apply_reload(&cur, &next), 1);
    ck_assert_str_eq(cur.broker.broker_name, "b1");
    ck_assert_int_eq(cur.broker.listen_port, 20911);
    ck_assert_int_eq(cur.namesrv.listen_port, 19876);
    ck_assert_str_eq(cur.supervisor.run_dir, "/tmp/r1");
    ck_assert_int_eq(cur.supervisor.restart_intensity, 6);
}
END_TEST

START_TEST(test_config_reload_of_identical_config_changes_nothing)
{
    rmq_config cur, next, before;

    cfg_expect_ok(cfg_reload_base, &cur);
    cfg_expect_ok(cfg_reload_base, &next);
    before = cur;
    ck_assert_int_eq(rmq_config_apply_reload(&cur, &next), 0);
    cfg_assert_same(&cur, &before);
}
END_TEST

START_TEST(test_config_reload_cannot_add_or_remove_a_group)
{
    rmq_config cur, next;

    cfg_expect_ok("namesrv = { listenPort = 19876; };\n", &cur);
    cfg_expect_ok("namesrv = { listenPort = 19876; };\nbroker = {};\n", &next);
    rmq_config_apply_reload(&cur, &next);
    ck_assert(!cur.has_broker);
    ck_assert(cur.has_namesrv);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("common.config");
    TCase *tc;

    tc = tcase_create("defaults");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_config_default_file_parses);
    tcase_add_test(tc, test_config_embedded_default_parses_and_equals_the_file);
    tcase_add_test(tc, test_config_absent_keys_get_their_defaults);
    tcase_add_test(tc, test_config_relative_paths_are_made_absolute);
    tcase_add_test(tc,
                   test_config_broker_only_and_namesrv_only_files_are_valid);
    tcase_add_test(tc, test_config_delay_levels_parse_every_unit);
    tcase_add_test(tc, test_config_string_loader_names_its_source_in_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_config_unknown_key_names_file_line_and_key);
    tcase_add_test(tc, test_config_key_names_are_case_sensitive);
    tcase_add_test(tc, test_config_unknown_group_names_file_line_and_group);
    tcase_add_test(tc, test_config_group_given_as_a_scalar_is_rejected);
    tcase_add_test(tc, test_config_string_for_an_int_is_a_type_error);
    tcase_add_test(tc, test_config_float_for_an_int_is_a_type_error);
    tcase_add_test(tc, test_config_list_for_an_int_is_a_type_error);
    tcase_add_test(tc, test_config_group_for_an_int_is_a_type_error);
    tcase_add_test(tc, test_config_int_for_a_bool_is_a_type_error);
    tcase_add_test(tc, test_config_string_for_a_bool_is_a_type_error);
    tcase_add_test(tc, test_config_bool_for_a_string_is_a_type_error);
    tcase_add_test(tc, test_config_int_for_an_enum_is_a_type_error);
    tcase_add_test(tc, test_config_value_above_max_is_out_of_range);
    tcase_add_test(tc, test_config_value_below_min_is_out_of_range);
    tcase_add_test(tc, test_config_int64_value_above_max_is_out_of_range);
    tcase_add_test(tc, test_config_nonzero_broker_id_is_out_of_range);
    tcase_add_test(tc, test_config_unknown_enum_value_is_rejected);
    tcase_add_test(tc, test_config_unknown_log_level_is_rejected);
    tcase_add_test(tc, test_config_string_longer_than_its_field_is_rejected);
    tcase_add_test(tc, test_config_string_of_exactly_max_length_is_accepted);
    tcase_add_test(tc, test_config_syntax_error_names_its_line);
    tcase_add_test(tc, test_config_unterminated_group_is_a_syntax_error);
    tcase_add_test(tc, test_config_missing_file_is_reported);
    tcase_add_test(tc, test_config_file_without_broker_or_namesrv_is_rejected);
    tcase_add_test(tc, test_config_cq_file_size_not_multiple_of_20_is_rejected);
    tcase_add_test(tc, test_config_cq_file_size_is_not_checked_without_broker);
    tcase_add_test(tc, test_config_slave_role_is_rejected_for_now);
    tcase_add_test(tc,
                   test_config_namesrv_port_equal_to_broker_port_is_rejected);
    tcase_add_test(
        tc, test_config_namesrv_port_equal_to_broker_fast_port_is_rejected);
    tcase_add_test(
        tc, test_config_port_clash_from_a_default_names_the_line_that_was_set);
    tcase_add_test(tc,
                   test_config_port_clash_is_ignored_when_namesrv_is_disabled);
    tcase_add_test(tc, test_config_bad_delay_level_unit_is_rejected);
    tcase_add_test(tc, test_config_zero_or_empty_delay_levels_are_rejected);
    tcase_add_test(tc, test_config_more_than_32_delay_levels_are_rejected);
    tcase_add_test(
        tc, test_config_delay_level_overflowing_milliseconds_is_rejected);
    tcase_add_test(tc, test_config_empty_run_dir_is_rejected);
    tcase_add_test(tc, test_config_empty_store_dir_is_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("print");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_config_print_shows_every_key_with_its_value);
    tcase_add_test(tc,
                   test_config_printed_output_parses_back_to_the_same_config);
    tcase_add_test(
        tc, test_config_print_of_defaults_parses_back_to_the_same_config);
    tcase_add_test(tc, test_config_print_omits_absent_groups);
    tcase_add_test(
        tc, test_config_printed_strings_with_quotes_and_escapes_round_trip);
    tcase_add_test(
        tc, test_config_print_with_bad_file_exits_2_naming_file_line_and_key);
    suite_add_tcase(s, tc);

    tc = tcase_create("reload");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_config_reload_changes_reloadable_keys);
    tcase_add_test(tc, test_config_reload_keeps_fixed_keys);
    tcase_add_test(tc, test_config_reload_of_identical_config_changes_nothing);
    tcase_add_test(tc, test_config_reload_cannot_add_or_remove_a_group);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(config_suite());
}

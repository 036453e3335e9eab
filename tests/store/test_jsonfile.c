/*
 * test_jsonfile.c - store.jsonfile: the config-file write procedure
 * (.tmp, .bak, atomic replace), loading with .bak fallback, and
 * fastjson's bare integer keys.
 */
#include "common/err.h"
#include "store/jsonfile.h"
#include "store_test.h"

static void
write_raw(const char *path, const char *text)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static char *
read_raw(const char *path)
{
    static char buf[4096];
    int         fd = open(path, O_RDONLY);
    ssize_t     n;

    ck_assert_int_ge(fd, 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    return buf;
}

static json_int_t
get_int(json_t *root, const char *a, const char *b)
{
    json_t *o = json_object_get(root, a);

    ck_assert_ptr_nonnull(o);
    o = json_object_get(o, b);
    ck_assert_ptr_nonnull(o);
    return json_integer_value(o);
}

START_TEST(test_jsonfile_write_keeps_previous_content_as_bak)
{
    char f[512], bak[512], tmp[512];

    snprintf(f, sizeof(f), "%s/topics.json", st_dir);
    snprintf(bak, sizeof(bak), "%s.bak", f);
    snprintf(tmp, sizeof(tmp), "%s.tmp", f);
    ck_assert_int_eq(rmq_jsonfile_write(f, "{\"v\":1}", 7), 0);
    ck_assert_str_eq(read_raw(f), "{\"v\":1}");
    ck_assert_int_eq(st_file_size(bak), -1); /* nothing before */
    ck_assert_int_eq(rmq_jsonfile_write(f, "{\"v\":2}", 7), 0);
    ck_assert_str_eq(read_raw(f), "{\"v\":2}");
    ck_assert_str_eq(read_raw(bak), "{\"v\":1}");
    ck_assert_int_eq(st_file_size(tmp), -1);
}
END_TEST

START_TEST(test_jsonfile_save_then_load_round_trip)
{
    char    f[512];
    json_t *root =
        json_pack("{s:{s:I,s:I}}", "dataVersion", "counter", (json_int_t)3,
                  "timestamp", (json_int_t)1700000000000LL);
    json_t *got = NULL;

    snprintf(f, sizeof(f), "%s/x.json", st_dir);
    ck_assert_int_eq(rmq_jsonfile_save(f, root), 0);
    ck_assert_int_eq(rmq_jsonfile_load(f, &got), 0);
    ck_assert_int_eq(get_int(got, "dataVersion", "counter"), 3);
    ck_assert_int_eq(get_int(got, "dataVersion", "timestamp"), 1700000000000LL);
    json_decref(root);
    json_decref(got);
}
END_TEST

START_TEST(test_jsonfile_load_falls_back_to_bak)
{
    char    f[512], bak[512];
    json_t *got = NULL;

    snprintf(f, sizeof(f), "%s/c.json", st_dir);
    snprintf(bak, sizeof(bak), "%s.bak", f);
    ck_assert_int_eq(rmq_jsonfile_load(f, &got), RMQ_ERR_NOTFOUND);
    write_raw(bak, "{\"a\":{\"b\":7}}");
    /* missing */
    ck_assert_int_eq(rmq_jsonfile_load(f, &got), 0);
    ck_assert_int_eq(get_int(got, "a", "b"), 7);
    json_decref(got);
    /* empty */
    write_raw(f, "");
    ck_assert_int_eq(rmq_jsonfile_load(f, &got), 0);
    ck_assert_int_eq(get_int(got, "a", "b"), 7);
    json_decref(got);
    /* unparsable (a torn write) */
    write_raw(f, "{\"a\":{\"b\":");
    ck_assert_int_eq(rmq_jsonfile_load(f, &got), 0);
    ck_assert_int_eq(get_int(got, "a", "b"), 7);
    json_decref(got);
    /* both bad */
    write_raw(bak, "garbage");
    ck_assert_int_eq(rmq_jsonfile_load(f, &got), RMQ_ERR_CORRUPT);
}
END_TEST

START_TEST(test_jsonfile_loads_bare_integer_keys)
{
    char    f[512];
    json_t *got = NULL;
    json_t *q;

    snprintf(f, sizeof(f), "%s/consumerOffset.json", st_dir);
    /* what fastjson writes, pretty-printed, plus a negative key */
    write_raw(f, "{\n\t\"offsetTable\":{\n\t\t\"t@g\":{0:12,1 : 5,\n"
                 "\t\t\t-1:3},\n\t\t\"u@g\":{\"0\":9}\n\t}\n}");
    ck_assert_int_eq(rmq_jsonfile_load(f, &got), 0);
    q = json_object_get(json_object_get(got, "offsetTable"), "t@g");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "0")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "1")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "-1")), 3);
    q = json_object_get(json_object_get(got, "offsetTable"), "u@g");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "0")), 9);
    json_decref(got);
}
END_TEST

START_TEST(test_jsonfile_quoting_leaves_strings_and_arrays_alone)
{
    static const char in[] =
        "{\"a\":\"{0:1}\",\"b\\\",{2:\":[1,2],3:{4:\"x\\\\\"},\"c\":-5}";
    char  *out;
    size_t n;

    ck_assert_int_eq(rmq_json_quote_bare_keys(in, sizeof(in) - 1, &out, &n), 0);
    ck_assert_str_eq(out, "{\"a\":\"{0:1}\",\"b\\\",{2:\":[1,2],\"3\":"
                          "{\"4\":\"x\\\\\"},\"c\":-5}");
    ck_assert_uint_eq(n, strlen(out));
    free(out);
}
END_TEST

START_TEST(test_jsonfile_saves_quoted_integer_keys)
{
    char    f[512];
    json_t *root = json_pack("{s:{s:I,s:I}}", "offsetTable", "1", (json_int_t)0,
                             "2", (json_int_t)17);
    char   *text;

    snprintf(f, sizeof(f), "%s/delayOffset.json", st_dir);
    ck_assert_int_eq(rmq_jsonfile_save(f, root), 0);
    text = read_raw(f);
    ck_assert_ptr_nonnull(strstr(text, "\"1\": 0"));
    ck_assert_ptr_nonnull(strstr(text, "\"2\": 17"));
    json_decref(root);
}
END_TEST

static Suite *
jsonfile_suite(void)
{
    Suite *s = suite_create("store.jsonfile");
    TCase *file = tcase_create("file");
    TCase *keys = tcase_create("keys");

    tcase_add_checked_fixture(file, st_setup, st_teardown);
    tcase_add_checked_fixture(keys, st_setup, st_teardown);
    tcase_set_timeout(file, 10);
    tcase_set_timeout(keys, 10);
    tcase_add_test(file, test_jsonfile_write_keeps_previous_content_as_bak);
    tcase_add_test(file, test_jsonfile_save_then_load_round_trip);
    tcase_add_test(file, test_jsonfile_load_falls_back_to_bak);
    tcase_add_test(keys, test_jsonfile_loads_bare_integer_keys);
    tcase_add_test(keys, test_jsonfile_quoting_leaves_strings_and_arrays_alone);
    tcase_add_test(keys, test_jsonfile_saves_quoted_integer_keys);
    suite_add_tcase(s, file);
    suite_add_tcase(s, keys);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(jsonfile_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

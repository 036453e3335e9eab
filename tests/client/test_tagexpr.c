/*
 * test_tagexpr.c - Check suite "client.tagexpr": tag subscription
 * expressions (client/tagexpr.h) as Java's FilterAPI reads them, and the
 * Java hash codes sent in codeSet.  Pure functions; no processes.
 */
#include "client/tagexpr.h"

#include "rmq/client.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static rmq_tagexpr tx;

static void
setup(void)
{
    memset(&tx, 0, sizeof(tx));
}

static void
teardown(void)
{
    rmq_tagexpr_free(&tx);
}

START_TEST(test_tagexpr_star_null_and_empty_match_everything)
{
    const char *all[] = {"*", "", NULL};

    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(rmq_tagexpr_parse(all[i], &tx), 0);
        ck_assert(tx.all);
        ck_assert_str_eq(tx.text, "*");
        ck_assert_uint_eq(tx.n, 0);
        ck_assert(rmq_tagexpr_match(&tx, "anything"));
        ck_assert(rmq_tagexpr_match(&tx, NULL));
        rmq_tagexpr_free(&tx);
    }
}
END_TEST

START_TEST(test_tagexpr_or_list_is_split_and_trimmed)
{
    ck_assert_int_eq(rmq_tagexpr_parse(" TagA ||TagB||  TagA ", &tx), 0);
    ck_assert(!tx.all);
    ck_assert_str_eq(tx.text, " TagA ||TagB||  TagA ");
    ck_assert_uint_eq(tx.n, 2);
    ck_assert_str_eq(tx.tags[0], "TagA");
    ck_assert_str_eq(tx.tags[1], "TagB");
}
END_TEST

START_TEST(test_tagexpr_codes_are_java_hash_codes)
{
    ck_assert_int_eq(rmq_tagexpr_parse("TagA || TagB || A || "
                                       "tag-with-long-name-xyz || 中文",
                                       &tx),
                     0);
    ck_assert_uint_eq(tx.n, 5);
    ck_assert_int_eq(tx.codes[0], 2598919);
    ck_assert_int_eq(tx.codes[1], 2598920);
    ck_assert_int_eq(tx.codes[2], 65);
    ck_assert_int_eq(tx.codes[3], -1424220204);
    ck_assert_int_eq(tx.codes[4], 646394);
}
END_TEST

START_TEST(test_tagexpr_matches_listed_tags_only)
{
    ck_assert_int_eq(rmq_tagexpr_parse("A || B", &tx), 0);
    ck_assert(rmq_tagexpr_match(&tx, "A"));
    ck_assert(rmq_tagexpr_match(&tx, "B"));
    ck_assert(!rmq_tagexpr_match(&tx, "C"));
    ck_assert(!rmq_tagexpr_match(&tx, "AB"));
    ck_assert(!rmq_tagexpr_match(&tx, NULL));
}
END_TEST

START_TEST(test_tagexpr_single_bar_is_part_of_a_tag)
{
    /* Java splits on "||" only: "A|||B" is "A" and "|B" */
    ck_assert_int_eq(rmq_tagexpr_parse("A|||B", &tx), 0);
    ck_assert_uint_eq(tx.n, 2);
    ck_assert_str_eq(tx.tags[0], "A");
    ck_assert_str_eq(tx.tags[1], "|B");
}
END_TEST

START_TEST(test_tagexpr_only_separators_is_invalid)
{
    ck_assert_int_eq(rmq_tagexpr_parse(" || ||", &tx), RMQ_CLIENT_ERR_INVALID);
    ck_assert_ptr_null(tx.text);
}
END_TEST

static Suite *
tagexpr_suite(void)
{
    Suite *s = suite_create("client.tagexpr");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_tagexpr_star_null_and_empty_match_everything);
    tcase_add_test(tc, test_tagexpr_or_list_is_split_and_trimmed);
    tcase_add_test(tc, test_tagexpr_codes_are_java_hash_codes);
    tcase_add_test(tc, test_tagexpr_matches_listed_tags_only);
    tcase_add_test(tc, test_tagexpr_single_bar_is_part_of_a_tag);
    tcase_add_test(tc, test_tagexpr_only_separators_is_invalid);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(tagexpr_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

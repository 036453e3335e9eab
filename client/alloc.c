/*
 * alloc.c - average queue allocation (alloc.h).  Pure; any thread.
 */
#include "client/alloc.h"

#include <stdlib.h>
#include <string.h>

void
rmq_alloc_average(size_t nmqs, size_t ncids, size_t cid_index, size_t *start,
                  size_t *count)
{
    size_t mod, avg, first;

    *start = 0;
    *count = 0;
    if (nmqs == 0 || ncids == 0 || cid_index >= ncids) {
        return;
    }
    mod = nmqs % ncids;
    if (nmqs <= ncids) {
        avg = 1;
    } else if (mod > 0 && cid_index < mod) {
        avg = nmqs / ncids + 1;
    } else {
        avg = nmqs / ncids;
    }
    first =
        (mod > 0 && cid_index < mod) ? cid_index * avg : cid_index * avg + mod;
    *start = first;
    /* Java: range = min(average, size - startIndex), may be <= 0 */
    *count = first < nmqs ? (avg < nmqs - first ? avg : nmqs - first) : 0;
}

static int
alloc_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void
rmq_alloc_sort_ids(char **ids, size_t n)
{
    if (n > 1) {
        qsort(ids, n, sizeof(*ids), alloc_cmp);
    }
}

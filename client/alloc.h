/*
 * alloc.h - client-side queue allocation for CLUSTERING consumers: Java's
 * AllocateMessageQueueAveragely over the sorted queues and the sorted
 * client ids of the group.  Pure functions.
 */
#ifndef RMQ_CLIENT_ALLOC_H
#define RMQ_CLIENT_ALLOC_H

#include <stddef.h>

/*
 * The share of consumer number cid_index among ncids consumers of nmqs
 * queues: queues [*start, *start + *count) of the sorted list (taken
 * modulo nmqs, as Java does).  *count is 0 when this consumer gets
 * nothing (more consumers than queues, or cid_index out of range).
 */
void rmq_alloc_average(size_t nmqs, size_t ncids, size_t cid_index,
                       size_t *start, size_t *count);

/* Sort client ids as Java's String.compareTo does for ASCII (strcmp). */
void rmq_alloc_sort_ids(char **ids, size_t n);

#endif

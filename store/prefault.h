/*
 * prefault.h - a background thread that faults in pages of a writable
 * mapping ahead of its writer, so the writer's appends never wait for a
 * fresh page (on these virtual machines the first touch of a page costs
 * up to ~9 us: a 1 KiB record would pay a quarter of that).  The writer
 * posts ranges; the thread populates them with MADV_POPULATE_WRITE (or by
 * touching each page on old kernels), changing no byte.  Used by the
 * commit log in clwriter.  The ranges must stay mapped until stop.
 */
#ifndef RMQ_STORE_PREFAULT_H
#define RMQ_STORE_PREFAULT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_PREFAULT_QUEUE 64

typedef struct rmq_prefaulter {
    pthread_t       thread;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    struct {
        uint8_t *p;
        size_t   len;
    } q[RMQ_PREFAULT_QUEUE];
    unsigned head, n;
    bool     stop;
    bool     running;
} rmq_prefaulter;

int rmq_prefaulter_start(rmq_prefaulter *pf);
/* Queue [p, p + len) for faulting in; false when the queue is full. */
bool rmq_prefaulter_post(rmq_prefaulter *pf, uint8_t *p, size_t len);
/* Stop the thread (waits for the range being faulted in). */
void rmq_prefaulter_stop(rmq_prefaulter *pf);
/* Fault [p, p + len) in now, on the calling thread. */
void rmq_populate(uint8_t *p, size_t len);

#endif

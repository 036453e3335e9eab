/*
 * prefault.c - background page pre-faulting (prefault.h).
 */
#include "store/prefault.h"

#include "common/err.h"

#include <string.h>
#include <sys/mman.h>

#define PF_PAGE 4096

void
rmq_populate(uint8_t *p, size_t len)
{
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0) {
        return;
    }
    /* kernels before 5.14: touch each page; only the writer writes here */
    for (size_t i = 0; i < len; i += PF_PAGE) {
        volatile uint8_t *b = p + i;
        *b = *b;
    }
}

static void *
pf_main(void *arg)
{
    rmq_prefaulter *pf = arg;

    pthread_mutex_lock(&pf->mu);
    for (;;) {
        uint8_t *p;
        size_t   len;

        while (pf->n == 0 && !pf->stop) {
            pthread_cond_wait(&pf->cv, &pf->mu);
        }
        if (pf->stop) {
            break;
        }
        p = pf->q[pf->head].p;
        len = pf->q[pf->head].len;
        pf->head = (pf->head + 1) % RMQ_PREFAULT_QUEUE;
        pf->n--;
        pthread_mutex_unlock(&pf->mu);
        rmq_populate(p, len);
        pthread_mutex_lock(&pf->mu);
    }
    pthread_mutex_unlock(&pf->mu);
    return NULL;
}

int
rmq_prefaulter_start(rmq_prefaulter *pf)
{
    memset(pf, 0, sizeof(*pf));
    pthread_mutex_init(&pf->mu, NULL);
    pthread_cond_init(&pf->cv, NULL);
    if (pthread_create(&pf->thread, NULL, pf_main, pf) != 0) {
        return RMQ_ERR_SYS;
    }
    pf->running = true;
    return 0;
}

bool
rmq_prefaulter_post(rmq_prefaulter *pf, uint8_t *p, size_t len)
{
    bool ok;

    pthread_mutex_lock(&pf->mu);
    ok = pf->n < RMQ_PREFAULT_QUEUE;
    if (ok) {
        unsigned tail = (pf->head + pf->n) % RMQ_PREFAULT_QUEUE;
        pf->q[tail].p = p;
        pf->q[tail].len = len;
        pf->n++;
        pthread_cond_signal(&pf->cv);
    }
    pthread_mutex_unlock(&pf->mu);
    return ok;
}

void
rmq_prefaulter_stop(rmq_prefaulter *pf)
{
    if (!pf->running) {
        return;
    }
    pthread_mutex_lock(&pf->mu);
    pf->stop = true;
    pthread_cond_signal(&pf->cv);
    pthread_mutex_unlock(&pf->mu);
    pthread_join(pf->thread, NULL);
    pthread_mutex_destroy(&pf->mu);
    pthread_cond_destroy(&pf->cv);
    pf->running = false;
}

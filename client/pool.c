/*
 * pool.c - fixed thread pool (pool.h).  Threads live from rmq_pool_new
 * to rmq_pool_stop; the queue and flags are guarded by p->mu.
 */
#include "client/pool.h"

#include "rmq/client.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

typedef struct pool_task {
    rmq_pool_fn       fn;
    void             *arg;
    struct pool_task *next;
} pool_task;

struct rmq_pool {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    pool_task      *head, *tail;
    int             queued;
    bool            stopping;
    bool            cancel; /* at stop: cancel the queue instead of running */
    bool            joined;
    int             nthreads;
    pthread_t      *threads;
};

static void *
pool_main(void *arg)
{
    rmq_pool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        pool_task *t;

        while (p->head == NULL && !p->stopping) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (p->head == NULL) {
            break; /* stopping and drained */
        }
        t = p->head;
        p->head = t->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->queued--;
        {
            bool cancelled = p->cancel;
            pthread_mutex_unlock(&p->mu);
            t->fn(t->arg, cancelled);
            free(t);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int
rmq_pool_new(int nthreads, rmq_pool **out)
{
    rmq_pool *p = calloc(1, sizeof(*p));
    sigset_t  all, old;
    int       rc = 0;

    if (p == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    if (nthreads < 1) {
        nthreads = 1;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
    if (p->threads == NULL) {
        rmq_pool_free(p);
        return RMQ_CLIENT_ERR_NOMEM;
    }
    /* pool threads block every signal, like the I/O thread (cio.c) */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < nthreads && rc == 0; i++) {
        rc = pthread_create(&p->threads[i], NULL, pool_main, p);
        p->nthreads += rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        rmq_pool_free(p);
        return RMQ_CLIENT_ERR_SYS;
    }
    *out = p;
    return 0;
}

int
rmq_pool_submit(rmq_pool *p, rmq_pool_fn fn, void *arg)
{
    pool_task *t = malloc(sizeof(*t));

    if (t == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        free(t);
        return RMQ_CLIENT_ERR_CLOSED;
    }
    if (p->tail != NULL) {
        p->tail->next = t;
    } else {
        p->head = t;
    }
    p->tail = t;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void
rmq_pool_stop(rmq_pool *p, bool run_queued)
{
    if (p->joined) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    p->cancel = !run_queued;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    p->joined = true;
}

void
rmq_pool_free(rmq_pool *p)
{
    if (p == NULL) {
        return;
    }
    rmq_pool_stop(p, false);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

bool
rmq_pool_on_thread(rmq_pool *p)
{
    pthread_t self = pthread_self();

    for (int i = 0; i < p->nthreads; i++) {
        if (pthread_equal(self, p->threads[i])) {
            return true;
        }
    }
    return false;
}

int
rmq_pool_queued(rmq_pool *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->queued;
    pthread_mutex_unlock(&p->mu);
    return n;
}

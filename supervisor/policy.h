/*
 * policy.h - restart policy: per-actor crash window and backoff.  Pure
 * functions over a small per-actor history; used only by the supervisor.
 *
 * An actor that exits unexpectedly more than `intensity` times within
 * `period_sec` is crash-looping, which is fatal for the broker.  Each
 * actor has its own window: crashes of different actors never add up.
 * Backoff: the first unexpected exit in a quiet period restarts at once;
 * each further one doubles the delay from 100 ms, capped at 2 s.
 */
#ifndef RMQ_SUPERVISOR_POLICY_H
#define RMQ_SUPERVISOR_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define RMQ_POLICY_HISTORY 1024 /* > the largest allowed intensity */

typedef struct rmq_restart_window {
    int64_t  at_ms[RMQ_POLICY_HISTORY]; /* monotonic times of exits, ring */
    uint32_t head;                      /* next write index */
    uint32_t count;                     /* valid entries */
} rmq_restart_window;

/* Exits recorded within period_sec before now_ms. */
uint32_t rmq_policy_recent(const rmq_restart_window *w, int64_t now_ms,
                           int period_sec);
/*
 * Record an unexpected exit at now_ms.  Returns true when the actor is
 * now crash-looping (more than intensity exits within period_sec).
 */
bool rmq_policy_record(rmq_restart_window *w, int64_t now_ms, int intensity,
                       int period_sec);
/* Delay before the restart that follows the exit just recorded. */
int64_t rmq_policy_backoff_ms(const rmq_restart_window *w, int64_t now_ms,
                              int period_sec);

#endif

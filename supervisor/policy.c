/*
 * policy.c - restart intensity and backoff (policy.h).  Supervisor only.
 */
#include "supervisor/policy.h"

#define POLICY_BACKOFF_MIN_MS 100
#define POLICY_BACKOFF_MAX_MS 2000

uint32_t
rmq_policy_recent(const rmq_restart_window *w, int64_t now_ms, int period_sec)
{
    int64_t  since = now_ms - (int64_t)period_sec * 1000;
    uint32_t n = 0;

    for (uint32_t i = 0; i < w->count; i++) {
        uint32_t idx =
            (w->head + RMQ_POLICY_HISTORY - 1 - i) % RMQ_POLICY_HISTORY;
        if (w->at_ms[idx] <= since) {
            break; /* entries are in time order, newest first here */
        }
        n++;
    }
    return n;
}

bool
rmq_policy_record(rmq_restart_window *w, int64_t now_ms, int intensity,
                  int period_sec)
{
    w->at_ms[w->head] = now_ms;
    w->head = (w->head + 1) % RMQ_POLICY_HISTORY;
    if (w->count < RMQ_POLICY_HISTORY) {
        w->count++;
    }
    return rmq_policy_recent(w, now_ms, period_sec) > (uint32_t)intensity;
}

int64_t
rmq_policy_backoff_ms(const rmq_restart_window *w, int64_t now_ms,
                      int period_sec)
{
    uint32_t recent = rmq_policy_recent(w, now_ms, period_sec);
    int64_t  delay = POLICY_BACKOFF_MIN_MS;

    if (recent <= 1) {
        return 0;
    }
    for (uint32_t i = 2; i < recent && delay < POLICY_BACKOFF_MAX_MS; i++) {
        delay *= 2;
    }
    return delay > POLICY_BACKOFF_MAX_MS ? POLICY_BACKOFF_MAX_MS : delay;
}

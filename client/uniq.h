/*
 * uniq.h - client identity: the local IP address, the client id sent in
 * heartbeats ("ip@instance"), and UNIQ_KEY message ids generated like
 * Java's MessageClientIDSetter (spec/remoting-protocol.md 6.4):
 *
 *   hex( ip (4 or 16 bytes) | pid low 16 bits (int16) |
 *        per-instance int32 | ms since the start of this month, local
 *        time (int32, wraps like Java's int cast) | counter (int16) )
 *
 * 32 hex characters for IPv4.  rmq_uniq_next is thread-safe: the counter
 * is atomic and the month boundary is guarded by a mutex.
 */
#ifndef RMQ_CLIENT_UNIQ_H
#define RMQ_CLIENT_UNIQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_UNIQ_PREFIX_MAX (2 * (16 + 2 + 4) + 1)

typedef struct rmq_uniq {
    char            prefix[RMQ_UNIQ_PREFIX_MAX]; /* hex of ip|pid|instance */
    pthread_mutex_t mu;                          /* guards the month */
    int64_t         month_start_ms;
    int64_t         next_month_ms;
    atomic_uint     counter;
} rmq_uniq;

void rmq_uniq_init(rmq_uniq *u, const uint8_t *ip, size_t ip_len, uint32_t pid,
                   int32_t instance_code);
void rmq_uniq_fini(rmq_uniq *u);
/* Write the next id for a message born at now_ms into out (>= 64 bytes). */
void rmq_uniq_next(rmq_uniq *u, int64_t now_ms, char *out);
/* Start of the local-time month holding now_ms, and of the next one. */
void rmq_uniq_month(int64_t now_ms, int64_t *start_ms, int64_t *next_ms);

/*
 * The address this host is known by: the first non-loopback IPv4 address
 * of an interface that is up, else 127.0.0.1.  ip gets 4 bytes.
 */
void rmq_client_ip(uint8_t ip[16], size_t *ip_len, char *text, size_t cap);

#endif

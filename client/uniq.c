/*
 * uniq.c - client ip and UNIQ_KEY generation (uniq.h).  Any thread.
 */
#include "client/uniq.h"

#include "common/util.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void
rmq_uniq_month(int64_t now_ms, int64_t *start_ms, int64_t *next_ms)
{
    time_t    now = (time_t)(now_ms / 1000);
    struct tm tm;

    localtime_r(&now, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = 0;
    tm.tm_min = 0;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    *start_ms = (int64_t)mktime(&tm) * 1000;
    tm.tm_mon += 1; /* mktime normalises December + 1 */
    tm.tm_isdst = -1;
    *next_ms = (int64_t)mktime(&tm) * 1000;
}

void
rmq_uniq_init(rmq_uniq *u, const uint8_t *ip, size_t ip_len, uint32_t pid,
              int32_t instance_code)
{
    uint8_t raw[16 + 2 + 4];

    memcpy(raw, ip, ip_len);
    rmq_put_be16(raw + ip_len, (uint16_t)pid);
    rmq_put_be32(raw + ip_len + 2, (uint32_t)instance_code);
    rmq_hex_upper(raw, ip_len + 6, u->prefix);
    pthread_mutex_init(&u->mu, NULL);
    u->month_start_ms = 0;
    u->next_month_ms = 0;
    atomic_init(&u->counter, 0);
}

void
rmq_uniq_fini(rmq_uniq *u)
{
    pthread_mutex_destroy(&u->mu);
}

void
rmq_uniq_next(rmq_uniq *u, int64_t now_ms, char *out)
{
    uint8_t  tail[6];
    int64_t  start;
    unsigned n = atomic_fetch_add(&u->counter, 1);
    size_t   plen = strlen(u->prefix);

    pthread_mutex_lock(&u->mu);
    if (now_ms >= u->next_month_ms || now_ms < u->month_start_ms) {
        rmq_uniq_month(now_ms, &u->month_start_ms, &u->next_month_ms);
    }
    start = u->month_start_ms;
    pthread_mutex_unlock(&u->mu);
    /* Java: (int)(now - startTime), so it wraps after ~24.8 days */
    rmq_put_be32(tail, (uint32_t)(now_ms - start));
    rmq_put_be16(tail + 4, (uint16_t)n);
    memcpy(out, u->prefix, plen);
    rmq_hex_upper(tail, sizeof(tail), out + plen);
}

void
rmq_client_ip(uint8_t ip[16], size_t *ip_len, char *text, size_t cap)
{
    struct ifaddrs *ifs = NULL;
    struct in_addr  found = {.s_addr = htonl(INADDR_LOOPBACK)};

    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
            struct sockaddr_in *a = (struct sockaddr_in *)i->ifa_addr;
            if (a == NULL || a->sin_family != AF_INET ||
                (i->ifa_flags & IFF_UP) == 0 ||
                (i->ifa_flags & IFF_LOOPBACK) != 0) {
                continue;
            }
            found = a->sin_addr;
            break;
        }
        freeifaddrs(ifs);
    }
    memcpy(ip, &found, 4);
    *ip_len = 4;
    inet_ntop(AF_INET, &found, text, (socklen_t)cap);
}

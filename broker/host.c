/*
 * host.c - the broker's own address (host.h).
 */
#include "broker/host.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

static void
host_detect(char *out, size_t cap)
{
    struct ifaddrs *ifs = NULL;

    snprintf(out, cap, "127.0.0.1");
    if (getifaddrs(&ifs) != 0) {
        return;
    }
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) {
            continue;
        }
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
                  (socklen_t)cap);
        break;
    }
    freeifaddrs(ifs);
}

int
rmq_host_resolve(const rmq_broker_config *b, rmq_host *out)
{
    memset(out, 0, sizeof(*out));
    if (b->broker_ip1[0] != '\0') {
        rmq_strlcpy(out->ip_str, b->broker_ip1, sizeof(out->ip_str));
    } else {
        host_detect(out->ip_str, sizeof(out->ip_str));
    }
    if (inet_pton(AF_INET, out->ip_str, out->ip) == 1) {
        out->ip_len = 4;
    } else if (inet_pton(AF_INET6, out->ip_str, out->ip) == 1) {
        out->ip_len = 16;
    } else {
        rmq_log(RMQ_LOG_ERR, "host.ip", "brokerIP1 \"%s\" is not an IP address",
                out->ip_str);
        return RMQ_ERR_CONFIG;
    }
    out->port = b->listen_port;
    snprintf(out->addr, sizeof(out->addr), "%s:%d", out->ip_str, out->port);
    return 0;
}

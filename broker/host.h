/*
 * host.h - the broker's own address as clients must see it: brokerIP1 (or,
 * when empty, the first non-loopback IPv4 address of this machine, else
 * 127.0.0.1) and listenPort.  It is the storeHost of every record (so it
 * is inside every offset msgId) and the address registered with the name
 * servers.  Pure lookup; any broker actor.
 */
#ifndef RMQ_BROKER_HOST_H
#define RMQ_BROKER_HOST_H

#include "common/config.h"

#include <stdint.h>

typedef struct rmq_host {
    uint8_t ip[16];
    uint8_t ip_len; /* 4 or 16 */
    int32_t port;
    char    ip_str[64];
    char    addr[80]; /* "ip:port" */
} rmq_host;

/* Returns 0, or RMQ_ERR_CONFIG when brokerIP1 is not an IP address. */
int rmq_host_resolve(const rmq_broker_config *b, rmq_host *out);

#endif

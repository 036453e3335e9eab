/*
 * sendback.c - CONSUMER_SEND_MSG_BACK (36).  Until the retry path lands
 * the broker answers REQUEST_CODE_NOT_SUPPORTED, and clients (ali-ons,
 * librmq) fall back to sending the message to %RETRY%<group> themselves.
 */
#include "broker/broker.h"

#include "proto/codes.h"

void
rmq_broker_send_back(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    rmq_broker_replyf(b, c, cmd, RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED,
                      " request type %d not supported", cmd->code);
}

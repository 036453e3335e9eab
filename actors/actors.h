/*
 * actors.h - the entry point of every actor (one file each in actors/).
 * The supervisor's table (supervisor/table.c) refers to these.
 */
#ifndef RMQ_ACTORS_H
#define RMQ_ACTORS_H

#include "supervisor/actor.h"

void rmq_namesrv_main(rmq_actor *self);
void rmq_clwriter_main(rmq_actor *self);
void rmq_flusher_main(rmq_actor *self);
void rmq_dispatcher_main(rmq_actor *self);
void rmq_scheduler_main(rmq_actor *self);
void rmq_rebalancer_main(rmq_actor *self);
void rmq_longpoll_main(rmq_actor *self);
void rmq_acceptor_main(rmq_actor *self);
void rmq_testactor_main(rmq_actor *self); /* tests/support, test builds */

#endif

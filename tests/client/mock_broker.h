/*
 * mock_broker.h - an in-process stand-in for a name server and two
 * brokers ("broker-a", "broker-b") speaking the remoting protocol on
 * loopback ports, for the client.mock suite.  It keeps messages in memory
 * and answers the requests librmq makes (105, 310, 320, 11 with held
 * pulls, 14, 15, 29-31, 34-38, and sends 40 when a group changes).  One
 * thread runs its epoll loop; m->mu guards its state for the test's
 * queries.  Included by test_mock.c only (tests/client/ is not a
 * library).
 */
#ifndef RMQ_TESTS_MOCK_BROKER_H
#define RMQ_TESTS_MOCK_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#define MOCK_NS 0
#define MOCK_A 1
#define MOCK_B 2

typedef struct mock mock;

mock *mock_start(void);
void  mock_stop(mock *m);
/* "127.0.0.1:port" of the name server / a broker. */
const char *mock_addr(mock *m, int server);
/* Make topic known to the name server with these queue counts. */
void mock_topic(mock *m, const char *topic, int queues_a, int queues_b);
/* Answer sends to a broker with this code (0: normally). */
void mock_fail_sends(mock *m, int server, int code);
/* Never answer sends to a broker. */
void mock_silent(mock *m, int server, bool silent);
/* Whether the name server knows %RETRY% topics nobody created (true). */
void mock_retry_routes(mock *m, bool on);
/* Close every client connection of a server (on its next loop pass). */
void mock_drop_conns(mock *m, int server);
/* Answer CONSUMER_SEND_MSG_BACK with SYSTEM_ERROR. */
void mock_fail_sendback(mock *m, bool fail);
/* Requests with this code a server got. */
int mock_count(mock *m, int server, int code);
/* ext field of the last request with this code (any server), copied. */
bool mock_last_ext(mock *m, int code, const char *key, char *out, int cap);
/* Messages stored for topic on both brokers. */
int mock_stored(mock *m, const char *topic);
/* Stored messages of topic on a broker queue. */
int mock_queue_len(mock *m, int server, const char *topic, int qid);
/* Committed offset of group on a broker queue, -1 if none. */
long long mock_offset(mock *m, int server, const char *group, const char *topic,
                      int qid);
/* Distinct connections that last pulled the queues of topic on a
 * broker. */
int mock_pullers(mock *m, int server, const char *topic);
/* Clients in a group's heartbeat list on a broker. */
int mock_group_size(mock *m, int server, const char *group);
/* sysFlag of the first stored message of topic, -1 if none. */
int mock_first_sysflag(mock *m, const char *topic);

#endif

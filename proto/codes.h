/*
 * codes.h - RocketMQ 4.x request and response codes (spec remoting 2, 4),
 * permission bits, pull and message sysFlag bits.  Constants only.
 */
#ifndef RMQ_PROTO_CODES_H
#define RMQ_PROTO_CODES_H

/* Request codes: name server */
#define RMQ_REQ_PUT_KV_CONFIG                      100
#define RMQ_REQ_GET_KV_CONFIG                      101
#define RMQ_REQ_DELETE_KV_CONFIG                   102
#define RMQ_REQ_REGISTER_BROKER                    103
#define RMQ_REQ_UNREGISTER_BROKER                  104
#define RMQ_REQ_GET_ROUTEINFO_BY_TOPIC             105
#define RMQ_REQ_GET_BROKER_CLUSTER_INFO            106
#define RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER 206
#define RMQ_REQ_DELETE_TOPIC_IN_NAMESRV            216
#define RMQ_REQ_GET_KVLIST_BY_NAMESPACE            219
#define RMQ_REQ_GET_TOPICS_BY_CLUSTER              224
#define RMQ_REQ_GET_SYSTEM_TOPIC_LIST_FROM_NS      304

/* Request codes: broker */
#define RMQ_REQ_SEND_MESSAGE                       10
#define RMQ_REQ_PULL_MESSAGE                       11
#define RMQ_REQ_QUERY_MESSAGE                      12
#define RMQ_REQ_QUERY_CONSUMER_OFFSET              14
#define RMQ_REQ_UPDATE_CONSUMER_OFFSET             15
#define RMQ_REQ_UPDATE_AND_CREATE_TOPIC            17
#define RMQ_REQ_GET_ALL_TOPIC_CONFIG               21
#define RMQ_REQ_GET_BROKER_RUNTIME_INFO            28
#define RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP         29
#define RMQ_REQ_GET_MAX_OFFSET                     30
#define RMQ_REQ_GET_MIN_OFFSET                     31
#define RMQ_REQ_GET_EARLIEST_MSG_STORETIME         32
#define RMQ_REQ_VIEW_MESSAGE_BY_ID                 33
#define RMQ_REQ_HEART_BEAT                         34
#define RMQ_REQ_UNREGISTER_CLIENT                  35
#define RMQ_REQ_CONSUMER_SEND_MSG_BACK             36
#define RMQ_REQ_END_TRANSACTION                    37
#define RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP         38
#define RMQ_REQ_CHECK_TRANSACTION_STATE            39
#define RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED        40
#define RMQ_REQ_LOCK_BATCH_MQ                      41
#define RMQ_REQ_UNLOCK_BATCH_MQ                    42
#define RMQ_REQ_GET_ALL_CONSUMER_OFFSET            43
#define RMQ_REQ_GET_ALL_DELAY_OFFSET               45
#define RMQ_REQ_CHECK_CLIENT_CONFIG                46
#define RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200
#define RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG   201
#define RMQ_REQ_GET_TOPIC_STATS_INFO               202
#define RMQ_REQ_GET_CONSUMER_CONNECTION_LIST       203
#define RMQ_REQ_DELETE_SUBSCRIPTIONGROUP           207
#define RMQ_REQ_GET_CONSUME_STATS                  208
#define RMQ_REQ_DELETE_TOPIC_IN_BROKER             215
#define RMQ_REQ_SEND_MESSAGE_V2                    310
#define RMQ_REQ_SEND_BATCH_MESSAGE                 320

/* Response codes */
#define RMQ_RESP_SUCCESS                    0
#define RMQ_RESP_SYSTEM_ERROR               1
#define RMQ_RESP_SYSTEM_BUSY                2
#define RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED 3
#define RMQ_RESP_TRANSACTION_FAILED         4
#define RMQ_RESP_FLUSH_DISK_TIMEOUT         10
#define RMQ_RESP_SLAVE_NOT_AVAILABLE        11
#define RMQ_RESP_FLUSH_SLAVE_TIMEOUT        12
#define RMQ_RESP_MESSAGE_ILLEGAL            13
#define RMQ_RESP_SERVICE_NOT_AVAILABLE      14
#define RMQ_RESP_VERSION_NOT_SUPPORTED      15
#define RMQ_RESP_NO_PERMISSION              16
#define RMQ_RESP_TOPIC_NOT_EXIST            17
#define RMQ_RESP_TOPIC_EXIST_ALREADY        18
#define RMQ_RESP_PULL_NOT_FOUND             19
#define RMQ_RESP_PULL_RETRY_IMMEDIATELY     20
#define RMQ_RESP_PULL_OFFSET_MOVED          21
#define RMQ_RESP_QUERY_NOT_FOUND            22
#define RMQ_RESP_SUBSCRIPTION_PARSE_FAILED  23
#define RMQ_RESP_SUBSCRIPTION_NOT_EXIST     24
#define RMQ_RESP_SUBSCRIPTION_NOT_LATEST    25
#define RMQ_RESP_SUBSCRIPTION_GROUP_NOT_EXIST 26
#define RMQ_RESP_CONSUMER_NOT_ONLINE        206

/* Permission bits (PermName) */
#define RMQ_PERM_PRIORITY 0x8
#define RMQ_PERM_READ     0x4
#define RMQ_PERM_WRITE    0x2
#define RMQ_PERM_INHERIT  0x1

/* PULL_MESSAGE sysFlag (PullSysFlag) */
#define RMQ_PULL_COMMIT_OFFSET 0x1
#define RMQ_PULL_SUSPEND       0x2
#define RMQ_PULL_SUBSCRIPTION  0x4
#define RMQ_PULL_CLASS_FILTER  0x8
#define RMQ_PULL_LITE_PULL     0x10

/* Message sysFlag (MessageSysFlag) */
#define RMQ_MSGF_COMPRESSED      0x1
#define RMQ_MSGF_MULTI_TAGS      0x2
#define RMQ_MSGF_TX_MASK         0xC
#define RMQ_MSGF_TX_PREPARED     0x4
#define RMQ_MSGF_TX_COMMIT       0x8
#define RMQ_MSGF_TX_ROLLBACK     0xC
#define RMQ_MSGF_BORNHOST_V6     0x10
#define RMQ_MSGF_STOREHOST_V6    0x20

/* Well-known names */
#define RMQ_TOPIC_TBW102         "TBW102"
#define RMQ_TOPIC_SCHEDULE       "SCHEDULE_TOPIC_XXXX"
#define RMQ_RETRY_PREFIX         "%RETRY%"
#define RMQ_DLQ_PREFIX           "%DLQ%"

#endif

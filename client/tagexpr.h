/*
 * tagexpr.h - tag subscription expressions, as Java's
 * FilterAPI.buildSubscriptionData reads them: NULL, "" or "*" match every
 * message; otherwise tags separated by "||", each trimmed, empty ones
 * dropped, duplicates kept once.  codes[i] is the Java hashCode of
 * tags[i] (the broker compares it with the consume queue's tagsCode).
 * Pure data; one owner.
 */
#ifndef RMQ_CLIENT_TAGEXPR_H
#define RMQ_CLIENT_TAGEXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rmq_tagexpr {
    char    *text; /* subString as sent: "*" or the expression as given */
    bool     all;
    size_t   n;
    char   **tags;
    int32_t *codes;
} rmq_tagexpr;

/* Returns 0, RMQ_CLIENT_ERR_INVALID (only separators) or _NOMEM. */
int  rmq_tagexpr_parse(const char *expr, rmq_tagexpr *out);
void rmq_tagexpr_free(rmq_tagexpr *t);
/* Whether a message with this tag (NULL: none) matches. */
bool rmq_tagexpr_match(const rmq_tagexpr *t, const char *tag);

#endif

/*
 * table.h - aligned text tables for rmqctl's human output.  A table holds
 * copies of its cells; print pads every column to its widest cell.
 */
#ifndef RMQ_CLI_TABLE_H
#define RMQ_CLI_TABLE_H

#include <stdio.h>

#define RMQ_TABLE_COLS 16

typedef struct rmq_table {
    int    ncols;
    int    nrows;
    int    cap;
    char **cells; /* nrows * ncols; row 0 is the header */
} rmq_table;

void rmq_table_init(rmq_table *t, int ncols, const char *const *header);
/* Append a copy of a row of ncols cells (NULL cells print as empty). */
void rmq_table_row(rmq_table *t, const char *const *cells);
void rmq_table_print(const rmq_table *t, FILE *out);
void rmq_table_free(rmq_table *t);

#endif

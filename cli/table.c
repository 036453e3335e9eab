/*
 * table.c - see table.h.  rmqctl only.
 */
#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

void
rmq_table_init(rmq_table *t, int ncols, const char *const *header)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    rmq_table_row(t, header);
}

void
rmq_table_row(rmq_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        int    cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, sizeof(char *) * (size_t)(cap * t->ncols));
        if (p == NULL) {
            return;
        }
        t->cells = p;
        t->cap = cap;
    }
    for (int c = 0; c < t->ncols; c++) {
        t->cells[t->nrows * t->ncols + c] = strdup(cells[c] ? cells[c] : "");
    }
    t->nrows++;
}

void
rmq_table_print(const rmq_table *t, FILE *out)
{
    size_t width[RMQ_TABLE_COLS] = {0};

    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols && c < RMQ_TABLE_COLS; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t      n = cell ? strlen(cell) : 0;
            width[c] = n > width[c] ? n : width[c];
        }
    }
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols && c < RMQ_TABLE_COLS; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c == t->ncols - 1) {
                fprintf(out, "%s", cell ? cell : "");
            } else {
                fprintf(out, "%-*s  ", (int)width[c], cell ? cell : "");
            }
        }
        fputc('\n', out);
    }
}

void
rmq_table_free(rmq_table *t)
{
    for (int i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/*
 * control.c - create, attach and read the control segment (layout in
 * control.h).  The supervisor creates it; actors attach read-write and
 * write only their own fields; rmqctl attaches read-only.
 */
#include "shm/control.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(rmq_ctl_header) <= RMQ_CTL_OFF_SLOTS,
               "header must fit its page");
_Static_assert(sizeof(rmq_actor_slot) == 1024, "slot is 1 KiB");
_Static_assert(sizeof(rmq_slot_sup) <= 512, "supervisor half fits");
_Static_assert(sizeof(rmq_slot_act) <= 512, "actor half fits");
_Static_assert(sizeof(rmq_store_pos) <= 4096, "positions fit their page");
_Static_assert((RMQ_TOPIC_HASH & (RMQ_TOPIC_HASH - 1)) == 0,
               "hash size is a power of two");

static const char *const ctl_state_names[RMQ_ASTATE__COUNT] = {
    [RMQ_ASTATE_NONE] = "disabled",     [RMQ_ASTATE_WAITING] = "waiting",
    [RMQ_ASTATE_STARTING] = "starting", [RMQ_ASTATE_RUNNING] = "running",
    [RMQ_ASTATE_STOPPING] = "stopping", [RMQ_ASTATE_BACKOFF] = "backoff",
    [RMQ_ASTATE_STOPPED] = "stopped",
};

const char *
rmq_actor_state_name(unsigned state)
{
    return state < RMQ_ASTATE__COUNT ? ctl_state_names[state] : "?";
}

int32_t
rmq_ctl_actor_ready(const rmq_ctl *ctl, int id)
{
    rmq_actor_slot *slot = &ctl->slots[id];
    int32_t         pid = atomic_load(&slot->sup.s.pid);

    return (pid > 0 && atomic_load(&slot->sup.s.state) == RMQ_ASTATE_RUNNING &&
            atomic_load_explicit(&slot->act.s.ready_pid,
                                 memory_order_acquire) == pid)
               ? pid
               : 0;
}

static void
ctl_bind(rmq_ctl *ctl, void *base, size_t len)
{
    char *b = base;

    ctl->base = base;
    ctl->len = len;
    ctl->hdr = (rmq_ctl_header *)b;
    ctl->slots = (rmq_actor_slot *)(b + RMQ_CTL_OFF_SLOTS);
    ctl->config = b + RMQ_CTL_OFF_CONFIG;
    ctl->pos = (rmq_store_pos *)(b + RMQ_CTL_OFF_POS);
    ctl->thash = (_Atomic uint32_t *)(b + RMQ_CTL_OFF_THASH);
    ctl->topics = (rmq_topic_entry *)(b + RMQ_CTL_OFF_TOPICS);
    ctl->qw = (rmq_queue_w *)(b + RMQ_CTL_OFF_QW);
    ctl->qd = (rmq_queue_d *)(b + RMQ_CTL_OFF_QD);
    ctl->ghash = (_Atomic uint32_t *)(b + RMQ_CTL_OFF_GHASH);
    ctl->groups = (rmq_group_entry *)(b + RMQ_CTL_OFF_GROUPS);
    ctl->subs = (rmq_sub_entry *)(b + RMQ_CTL_OFF_SUBS);
}

static void
ctl_init_positions(rmq_store_pos *p)
{
    atomic_store(&p->store_gen, 0);
    atomic_store(&p->cl_min_offset, -1);
    atomic_store(&p->cl_written, -1);
    atomic_store(&p->cl_hwm, -1);
    atomic_store(&p->dispatch_from, -1);
    atomic_store(&p->cl_flushed, -1);
    atomic_store(&p->dispatched, -1);
}

/* The generation a new segment gets: one past the old one, if readable. */
static uint64_t
ctl_next_generation(const char *path)
{
    rmq_ctl  old;
    uint64_t gen = (uint64_t)rmq_now_ms();

    if (rmq_ctl_attach(path, false, &old) == 0) {
        gen = old.hdr->generation + 1;
        rmq_ctl_detach(&old);
    }
    return gen;
}

int
rmq_ctl_create(const char *path, rmq_ctl *out)
{
    char  tmp[1200];
    int   fd;
    void *base;
    int   err;

    snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
    unlink(tmp);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rmq_log_sys(RMQ_LOG_ERR, "ctl.create", errno,
                    "could not create control segment \"%s\"", tmp);
        return RMQ_ERR_SYS;
    }
    /* reserved, not sparse: a full disk fails here, not as SIGBUS later */
    err = rmq_file_reserve(fd, (int64_t)RMQ_CTL_SIZE);
    if (err != 0) {
        goto fail;
    }
    base = mmap(NULL, RMQ_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        err = errno;
        goto fail;
    }
    close(fd);
    ctl_bind(out, base, RMQ_CTL_SIZE);
    out->hdr->version = RMQ_CTL_VERSION;
    out->hdr->header_size = sizeof(rmq_ctl_header);
    out->hdr->size = RMQ_CTL_SIZE;
    out->hdr->generation = ctl_next_generation(path);
    out->hdr->supervisor_pid = (int32_t)getpid();
    out->hdr->created_ms = rmq_now_ms();
    ctl_init_positions(out->pos);
    atomic_thread_fence(memory_order_release);
    out->hdr->magic = RMQ_CTL_MAGIC;
    /* readers only ever open the renamed, fully initialised file */
    if (rename(tmp, path) != 0) {
        err = errno;
        munmap(base, RMQ_CTL_SIZE);
        unlink(tmp);
        rmq_log_sys(RMQ_LOG_ERR, "ctl.create", err,
                    "could not rename control segment to \"%s\"", path);
        return RMQ_ERR_SYS;
    }
    return 0;

fail:
    close(fd);
    unlink(tmp);
    rmq_log_sys(RMQ_LOG_ERR, "ctl.create", err,
                "could not size or map control segment \"%s\"", tmp);
    return RMQ_ERR_SYS;
}

int
rmq_ctl_attach(const char *path, bool writable, rmq_ctl *out)
{
    struct stat           st;
    int                   fd;
    void                 *base;
    const rmq_ctl_header *h;
    int                   prot = PROT_READ | (writable ? PROT_WRITE : 0);

    fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? RMQ_ERR_NOTFOUND : RMQ_ERR_SYS;
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != RMQ_CTL_SIZE) {
        close(fd);
        return RMQ_ERR_VERSION;
    }
    base = mmap(NULL, RMQ_CTL_SIZE, prot, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        return RMQ_ERR_SYS;
    }
    h = base;
    if (h->magic != RMQ_CTL_MAGIC || h->version != RMQ_CTL_VERSION ||
        h->size != RMQ_CTL_SIZE || h->header_size != sizeof(rmq_ctl_header)) {
        munmap(base, RMQ_CTL_SIZE);
        return RMQ_ERR_VERSION;
    }
    ctl_bind(out, base, RMQ_CTL_SIZE);
    return 0;
}

void
rmq_ctl_detach(rmq_ctl *ctl)
{
    if (ctl->base != NULL) {
        munmap(ctl->base, ctl->len);
    }
    memset(ctl, 0, sizeof(*ctl));
}

int
rmq_ctl_config_write(rmq_ctl *ctl, const char *text)
{
    size_t   len = strlen(text);
    uint64_t seq;

    if (len >= RMQ_CTL_CONFIG_MAX) {
        return RMQ_ERR_TOOBIG;
    }
    seq = atomic_load(&ctl->hdr->config_seq);
    atomic_store(&ctl->hdr->config_seq, seq + 1);
    atomic_thread_fence(memory_order_release);
    memcpy(ctl->config, text, len + 1);
    atomic_store(&ctl->hdr->config_len, (uint32_t)len);
    atomic_store_explicit(&ctl->hdr->config_seq, seq + 2, memory_order_release);
    return 0;
}

char *
rmq_ctl_config_read(const rmq_ctl *ctl)
{
    char *copy = malloc(RMQ_CTL_CONFIG_MAX);

    if (copy == NULL) {
        return NULL;
    }
    for (;;) {
        uint64_t s1 =
            atomic_load_explicit(&ctl->hdr->config_seq, memory_order_acquire);
        uint32_t len = atomic_load(&ctl->hdr->config_len);

        if ((s1 & 1) == 0 && len < RMQ_CTL_CONFIG_MAX) {
            memcpy(copy, ctl->config, len);
            copy[len] = '\0';
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load(&ctl->hdr->config_seq) == s1) {
                return copy;
            }
        }
        sched_yield();
    }
}

uint32_t
rmq_ctl_topic_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    }
    return h;
}

void
rmq_ctl_seq_begin(_Atomic uint32_t *seq)
{
    atomic_store_explicit(seq, atomic_load(seq) + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

void
rmq_ctl_seq_end(_Atomic uint32_t *seq)
{
    atomic_store_explicit(seq, atomic_load(seq) + 1, memory_order_release);
}

/*
 * Seqlock read of a size-byte entry whose first word is its seq: copy
 * until the copy was taken while no write was in progress.
 */
static void
ctl_seq_copy(const void *entry, void *snap, size_t size)
{
    _Atomic uint32_t *seq = (_Atomic uint32_t *)entry;

    for (;;) {
        uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire);
        if ((s1 & 1) == 0) {
            memcpy(snap, entry, size);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(seq, memory_order_relaxed) == s1) {
                return;
            }
        }
        sched_yield();
    }
}

bool
rmq_ctl_topic_read(const rmq_ctl *ctl, int idx, rmq_topic_entry *snap)
{
    if (idx < 0 || idx >= RMQ_TOPIC_MAX) {
        return false;
    }
    ctl_seq_copy(&ctl->topics[idx], snap, sizeof(*snap));
    snap->name[RMQ_TOPIC_NAME_MAX - 1] = '\0';
    return true;
}

bool
rmq_ctl_group_read(const rmq_ctl *ctl, int idx, rmq_group_entry *snap)
{
    if (idx < 0 || idx >= RMQ_GROUP_MAX) {
        return false;
    }
    ctl_seq_copy(&ctl->groups[idx], snap, sizeof(*snap));
    snap->name[RMQ_GROUP_NAME_MAX - 1] = '\0';
    return true;
}

bool
rmq_ctl_sub_read(const rmq_ctl *ctl, int idx, rmq_sub_entry *snap)
{
    if (idx < 0 || idx >= RMQ_SUB_MAX) {
        return false;
    }
    ctl_seq_copy(&ctl->subs[idx], snap, sizeof(*snap));
    snap->topic[RMQ_TOPIC_NAME_MAX - 1] = '\0';
    snap->expr[RMQ_SUB_EXPR_MAX - 1] = '\0';
    return true;
}

int
rmq_ctl_group_find(const rmq_ctl *ctl, const char *name, rmq_group_entry *snap)
{
    size_t   len = strlen(name);
    uint32_t mask = RMQ_GROUP_HASH - 1;
    uint32_t h = rmq_ctl_topic_hash(name, len) & mask;

    if (len == 0 || len >= RMQ_GROUP_NAME_MAX) {
        return -1;
    }
    for (uint32_t probe = 0; probe < RMQ_GROUP_HASH; probe++) {
        uint32_t v = atomic_load_explicit(&ctl->ghash[(h + probe) & mask],
                                          memory_order_acquire);
        if (v == 0) {
            return -1;
        }
        if (strcmp(ctl->groups[v - 1].name, name) == 0) {
            return rmq_ctl_group_read(ctl, (int)v - 1, snap) ? (int)v - 1 : -1;
        }
    }
    return -1;
}

int
rmq_ctl_sub_find(const rmq_ctl *ctl, int group_idx, const char *topic,
                 rmq_sub_entry *snap)
{
    for (int i = 0; i < RMQ_SUB_MAX; i++) {
        const rmq_sub_entry *e = &ctl->subs[i];
        if (e->state == 0) {
            break; /* entries are allocated in order */
        }
        if (e->state == 1 && e->group_idx == (uint32_t)group_idx &&
            strcmp(e->topic, topic) == 0 && rmq_ctl_sub_read(ctl, i, snap) &&
            snap->state == 1) {
            return i;
        }
    }
    return -1;
}

int
rmq_ctl_topic_find(const rmq_ctl *ctl, const char *name, size_t len,
                   rmq_topic_entry *snap)
{
    uint32_t mask = RMQ_TOPIC_HASH - 1;
    uint32_t h = rmq_ctl_topic_hash(name, len) & mask;

    if (len == 0 || len >= RMQ_TOPIC_NAME_MAX) {
        return -1;
    }
    for (uint32_t probe = 0; probe < RMQ_TOPIC_HASH; probe++) {
        uint32_t v = atomic_load_explicit(&ctl->thash[(h + probe) & mask],
                                          memory_order_acquire);
        int      idx;

        if (v == 0) {
            return -1;
        }
        idx = (int)v - 1;
        /* a published name never changes, so comparing in place is safe */
        if (strncmp(ctl->topics[idx].name, name, len) == 0 &&
            ctl->topics[idx].name[len] == '\0') {
            return rmq_ctl_topic_read(ctl, idx, snap) ? idx : -1;
        }
    }
    return -1;
}

/*
 * notify.c - the systemd notify protocol: one datagram per state change to
 * the Unix socket named by NOTIFY_SOCKET ("@" = abstract namespace).  No
 * library needed.  Supervisor only.
 */
#include "supervisor/sup.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void
rmq_notify(const char *state)
{
    const char        *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t          salen;
    size_t             len;
    int                fd;

    if (path == NULL || path[0] == '\0') {
        return;
    }
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0';
    }
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               salen) < 0) {
        rmq_log_sys(RMQ_LOG_WARN, "notify.send", errno,
                    "could not notify systemd (%s)", state);
    }
    close(fd);
}

int64_t
rmq_notify_watchdog_usec(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");

    if (usec == NULL) {
        return 0;
    }
    if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid()) {
        return 0;
    }
    return strtoll(usec, NULL, 10);
}

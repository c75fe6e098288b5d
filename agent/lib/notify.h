/* SPDX-License-Identifier: Apache-2.0 */
/*
 * systemd's notification protocol, without libsystemd: one datagram of
 * "KEY=VALUE\n" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or "@name" in the abstract namespace). Under Type=notify the unit is
 * started once READY=1 arrives; with WatchdogSec= the service must send
 * WATCHDOG=1 more often than $WATCHDOG_USEC or be restarted.
 */
#ifndef FORNAX_NOTIFY_H
#define FORNAX_NOTIFY_H

#include <linux/types.h>

/*
 * Sends msg ("READY=1", "WATCHDOG=1", "RELOADING=1\nMONOTONIC_USEC=...").
 * Returns 1 when sent, 0 when there is no $NOTIFY_SOCKET, or -errno.
 */
int notify__send(const char *msg);

/*
 * How often the watchdog wants WATCHDOG=1: half of $WATCHDOG_USEC, if it is
 * set for this process ($WATCHDOG_PID absent or ours); 0 when not.
 */
__u64 notify__watchdog_interval_ns(void);

#endif /* FORNAX_NOTIFY_H */

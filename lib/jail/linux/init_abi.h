/* What the jail's init (child.cpp, ljd's image until it execs) hands to the reaper it becomes
 * once the command is started (lj_init.c, a static executable ljd holds as a sealed memfd). C,
 * included by both. */
#ifndef LJ_JAIL_LINUX_INIT_ABI_H
#define LJ_JAIL_LINUX_INIT_ABI_H

/* Descriptors the reaper finds open at these numbers; everything else is closed. */
#define LJ_INIT_SLOT_STATUS 5      /* the status pipe to ljd: the raw wait status, an int */
#define LJ_INIT_SLOT_STATUS_FILE 6 /* the status file: "exited N\n" or "killed N\n" */
#define LJ_INIT_SLOT_GO 16         /* closed by the reaper once non-dumpable: the command starts */
/* Held, never read: the read ends of the jail's stdout and stderr pipes (when the daemon gave
 * them), so that the jail's writes never meet a pipe without a reader while its daemon is down,
 * and a restarted daemon takes them back with pidfd_getfd(2). */
#define LJ_INIT_SLOT_OUT_READ 17
#define LJ_INIT_SLOT_ERR_READ 18

/* A queued signal carrying this value asks init to signal every process of the jail. */
#define LJ_INIT_BROADCAST 0x6c6a64

/* argv: "lj-init", the command's pid (decimal, as seen in the jail), "1" to keep
 * PR_SET_PDEATHSIG(SIGKILL) or "0", and optionally "exec": the monitor of an exec (in the host's
 * pid namespace; the command's pid is a host pid), which never signals anything but its command. The signal mask is inherited: SIGCHLD and the signals
 * forwarded to the command are blocked, and anything blocked but SIGCHLD is forwarded. */

#endif

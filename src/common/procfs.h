/*
 * procfs.h - reading the kernel's files in /proc and /sys (procfs.c).
 * Every function returns 0 or -errno.
 */
#ifndef USHM_PROCFS_H
#define USHM_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The number a file such as /proc/sys/kernel/shmmax holds, read from
 * offset 0 of fd (a descriptor kept open reads the current value each
 * time).  -EINVAL when the file holds no number. */
int ushm__read_number_fd(int fd, unsigned long long *v);
/* The same, of the file at path. */
int ushm__read_number(const char *path, unsigned long long *v);
/* The rest of the line "name:" of a "Name:  value" file such as
 * /proc/meminfo into val.  -ENOENT when there is no such line. */
int ushm__read_field(const char *path, const char *name, char *val,
		     size_t len);
/* The kB figure of field (e.g. "MemTotal") in /proc/meminfo, or 0. */
unsigned long long ushm__meminfo_kb(const char *field);
/* The four ids (real, effective, saved, filesystem) of the "Uid" or
 * "Gid" line (field) of /proc/PID/status. */
int ushm__proc_ids(pid_t pid, const char *field, unsigned long ids[4]);
/* pid's effective capabilities (the "CapEff" line of /proc/PID/status,
 * a mask of 1 << CAP_*): what they are in pid's own user namespace. */
int ushm__proc_capeff(pid_t pid, uint64_t *caps);
/* Is pid in this process's user namespace?  1 or 0, or -errno.  Its
 * /proc/PID/ns/user names it; where that may not be looked at (a ptrace
 * check: another user's process, or one an LSM hides), the uid map
 * decides.  That is weaker: a namespace another shows the same map as
 * ours in can only have been made by a process with CAP_SETUID here,
 * but such a process can make one (and be root with every capability
 * in it). */
int ushm__proc_same_userns(pid_t pid);
/* pid's state letter and parent from /proc/PID/stat (ppid may be NULL).
 * -ENOENT when pid is gone or being reaped, -EIO when the line cannot be
 * parsed. */
int ushm__proc_stat(pid_t pid, char *state, long *ppid);
/* Descriptors this process holds (for the daemon's STATUS and leak
 * tests), or 0 when /proc/self/fd cannot be read. */
uint64_t ushm__open_fds(void);

#endif /* USHM_PROCFS_H */

/*
 * layout.c - prints the layout of ushm.h's public types: the size of
 * each struct, the offset and size of each member, the enum values.
 * tests/cli/abi.t compares it with tests/cli/abi/layout-ARCH.txt.  A member
 * added into reserved space adds lines here; one moved or resized
 * changes a line, which breaks programs built with the older header
 * (except reserved[] shrinking by the size of a member added before it:
 * that change is compatible, and is recorded as such on purpose).
 */
#include <stddef.h>
#include <stdio.h>
#include <ushm.h>

#define SIZE(t) printf("sizeof %s %zu\n", #t, sizeof(t))
#define MEMBER(t, m) printf("member %s.%s offset %zu size %zu\n", #t, #m, \
			    offsetof(t, m), sizeof(((t *)0)->m))
#define VALUE(e) printf("value %s %ld\n", #e, (long)(e))

int main(void)
{
	SIZE(struct ushm_daemon_info);
	MEMBER(struct ushm_daemon_info, pid);
	MEMBER(struct ushm_daemon_info, proto_version);
	MEMBER(struct ushm_daemon_info, segments);
	MEMBER(struct ushm_daemon_info, connections);
	MEMBER(struct ushm_daemon_info, open_fds);
	MEMBER(struct ushm_daemon_info, orphans);
	MEMBER(struct ushm_daemon_info, started);
	MEMBER(struct ushm_daemon_info, socket_path);
	MEMBER(struct ushm_daemon_info, state_dir);
	MEMBER(struct ushm_daemon_info, reserved);

	SIZE(struct ushm_daemon_counters);
	MEMBER(struct ushm_daemon_counters, shmget);
	MEMBER(struct ushm_daemon_counters, shmat);
	MEMBER(struct ushm_daemon_counters, shmat_undo);
	MEMBER(struct ushm_daemon_counters, shmdt);
	MEMBER(struct ushm_daemon_counters, shmctl);
	MEMBER(struct ushm_daemon_counters, registered);
	MEMBER(struct ushm_daemon_counters, hello);
	MEMBER(struct ushm_daemon_counters, forked);
	MEMBER(struct ushm_daemon_counters, status);
	MEMBER(struct ushm_daemon_counters, stop);
	MEMBER(struct ushm_daemon_counters, holders);
	MEMBER(struct ushm_daemon_counters, table);
	MEMBER(struct ushm_daemon_counters, reserved);

	SIZE(struct ushm_holder);
	MEMBER(struct ushm_holder, pid);
	MEMBER(struct ushm_holder, count);
	MEMBER(struct ushm_holder, start);
	MEMBER(struct ushm_holder, end);
	MEMBER(struct ushm_holder, reserved);

	SIZE(ushm_atomic_u32);
	SIZE(enum ushm_chan_role);
	VALUE(USHM_CHAN_PRODUCER);
	VALUE(USHM_CHAN_CONSUMER);
	return 0;
}

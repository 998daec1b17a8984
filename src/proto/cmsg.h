/*
 * cmsg.h - the ancillary data a message carries: the sender's
 * credentials (every request) and descriptors (some replies).
 *
 * Header-only, so that every side that builds a message by hand (the
 * daemon's replies, the fuzzer's and the test programs' requests, which
 * may add what no client sends) builds it the same way.  Include it with
 * _GNU_SOURCE defined (struct ucred).
 */
#ifndef USHM_PROTO_CMSG_H
#define USHM_PROTO_CMSG_H

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

/* Room for credentials and n descriptors. */
#define USHM__CMSG_ROOM(n)                                                 \
	(CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE((n) * sizeof(int)))

/*
 * Puts SCM_CREDENTIALS uc (NULL: none), then SCM_RIGHTS with the nfds
 * descriptors of fds (0: none), into mh's control buffer (msg_control,
 * msg_controllen bytes, aligned for a cmsghdr), and sets msg_controllen
 * to what they take: with neither, msg_control is NULL.  0, or -ENOSPC
 * when the buffer is too small.
 */
static inline int ushm__cmsg_put(struct msghdr *mh, const struct ucred *uc,
				 const int *fds, int nfds)
{
	size_t fds_len = nfds > 0 ? (size_t)nfds * sizeof(int) : 0;
	size_t need = (uc ? CMSG_SPACE(sizeof(*uc)) : 0) +
		      (fds_len ? CMSG_SPACE(fds_len) : 0);
	struct cmsghdr *cm;

	if (need > mh->msg_controllen)
		return -ENOSPC;
	memset(mh->msg_control, 0, need);
	mh->msg_controllen = need;
	if (need == 0) {
		mh->msg_control = NULL;
		return 0;
	}
	cm = CMSG_FIRSTHDR(mh);
	if (uc) {
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_CREDENTIALS;
		cm->cmsg_len = CMSG_LEN(sizeof(*uc));
		memcpy(CMSG_DATA(cm), uc, sizeof(*uc));
		cm = CMSG_NXTHDR(mh, cm);
	}
	if (fds_len) {
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(fds_len);
		memcpy(CMSG_DATA(cm), fds, fds_len);
	}
	return 0;
}

#endif /* USHM_PROTO_CMSG_H */

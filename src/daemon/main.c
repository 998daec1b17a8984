/*
 * main.c - ushmd: configuration, start-up as a daemon (server.c is the
 * server itself).
 */
#define _GNU_SOURCE
#include "server.h"
#include "../common/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef USHM_BUILD_VERSION
#error "build with the Makefile: it passes the version (USHM_BUILD_VERSION)"
#endif

/* Linux's defaults (include/uapi/linux/shm.h). */
#define KERNEL_SHMMAX (UINT64_MAX - (1ull << 24))
#define KERNEL_SHMALL (UINT64_MAX - (1ull << 24))
#define KERNEL_SHMMNI 4096

struct options {
	char socket_path[108];
	char state_dir[256];
	const char *config;
	int daemonize;
	int ready_fd;
	int log_level;
	int socket_mode;
	struct ushm__limits lim;
	uint64_t max_conns_per_uid;
	int conns_default; /* max_conns_per_uid was not given */
};

/* A quota not set: a quarter of what the machine can hold (shmmni
 * segments; bytes: shmall or the state filesystem, whichever is smaller;
 * connections: the daemon's descriptors), so that no user, nor two,
 * can take everything from the others. */
#define QUOTA_DEFAULT UINT64_MAX
#define QUOTA_SHARE 4
#define CONNS_PER_UID_DEFAULT 1024
/* ushmd.log and ushmd.log.1 each stay below this. */
#define LOG_MAX_BYTES (4u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ushmd [OPTION]...\n"
		"The ushm daemon: owns System V shared memory segments and serves\n"
		"shmget/shmat/shmdt/shmctl to clients of libushm.\n"
		"\n"
		"  -s, --socket PATH      listen on PATH (default: $USHM_SOCKET, else\n"
		"                         /run/ushm/ushmd.sock for root, else\n"
		"                         $XDG_RUNTIME_DIR/ushm/ushmd.sock, else\n"
		"                         /run/user/UID/ushm/ushmd.sock, else\n"
		"                         /tmp/ushm-UID/ushmd.sock)\n"
		"  -d, --state DIR        keep segments in DIR, ideally on a tmpfs\n"
		"                         (default: $USHM_STATE_DIR, else SOCKET.d when\n"
		"                         $USHM_SOCKET is set, else /run/ushm/state for\n"
		"                         root, else a per-user directory)\n"
		"  -c, --config FILE      read settings from FILE (lines: name = value;\n"
		"                         names: shmmax, shmall, shmmni, socket_mode,\n"
		"                         log_level, quota_segments, quota_bytes,\n"
		"                         max_conns_per_uid)\n"
		"      --shmmax BYTES     largest segment (default: the kernel's,\n"
		"                         read at each call)\n"
		"      --shmall PAGES     pages in all segments (default: the kernel's)\n"
		"      --shmmni COUNT     most segments (default: the kernel's)\n"
		"      --socket-mode MODE permissions of the socket (default 0666 for\n"
		"                         root, which serves every user, else 0600)\n"
		"Per-user limits, for a daemon that serves several users (root and\n"
		"the daemon's own user are exempt; 0 means no limit):\n"
		"      --quota-segments N segments one user may create (default:\n"
		"                         a quarter of shmmni)\n"
		"      --quota-bytes BYTES  bytes one user's segments may hold\n"
		"                         (default: a quarter of shmall or of the\n"
		"                         state directory's filesystem, the smaller)\n"
		"      --max-conns-per-uid N  connections one user may hold open\n"
		"                         (default: 1024, or a quarter of the\n"
		"                         daemon's descriptors if fewer)\n"
		"  -f, --foreground       stay in the foreground, log to stderr\n"
		"      --daemonize        detach; log to DIR/ushmd.log\n"
		"      --ready-fd FD      write one byte to FD once accepting clients\n"
		"  -l, --log-level LEVEL  error, warning, info or debug (default info)\n"
		"  -h, --help             show this help and exit\n"
		"  -V, --version          show the version and exit\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		return -EINVAL;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_level(const char *s)
{
	static const char *names[] = { "error", "warning", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* One setting from a flag or a config line.  0 or -EINVAL. */
static int apply(struct options *o, const char *name, const char *val)
{
	uint64_t v;

	if (strcmp(name, "log_level") == 0) {
		o->log_level = parse_level(val);
		return o->log_level < 0 ? -EINVAL : 0;
	}
	if (parse_u64(val, &v) < 0)
		return -EINVAL;
	/* A limit of ushmd's own no longer follows the kernel's. */
	if (strcmp(name, "shmmax") == 0) {
		o->lim.shmmax = v;
		o->lim.live &= ~(unsigned)USHM__LIVE_SHMMAX;
	} else if (strcmp(name, "shmall") == 0) {
		o->lim.shmall = v;
		o->lim.live &= ~(unsigned)USHM__LIVE_SHMALL;
	} else if (strcmp(name, "shmmni") == 0 && v <= USHM__IPCMNI) {
		o->lim.shmmni = v;
		o->lim.live &= ~(unsigned)USHM__LIVE_SHMMNI;
	}
	else if (strcmp(name, "socket_mode") == 0 && v <= 0777)
		o->socket_mode = (int)v;
	else if (strcmp(name, "quota_segments") == 0)
		o->lim.quota_segments = v;
	else if (strcmp(name, "quota_bytes") == 0)
		o->lim.quota_bytes = v;
	else if (strcmp(name, "max_conns_per_uid") == 0) {
		o->max_conns_per_uid = v;
		o->conns_default = 0;
	} else
		return -EINVAL;
	return 0;
}

static int read_config(struct options *o, const char *path)
{
	char line[512];
	int lineno = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "ushmd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[64], val[256];

		lineno++;
		if (sscanf(line, " %63[a-z_] = %255s", name, val) != 2) {
			char c;

			if (sscanf(line, " %c", &c) != 1 || c == '#')
				continue;
		} else if (apply(o, name, val) == 0) {
			continue;
		}
		fprintf(stderr, "ushmd: %s:%d: not a valid setting\n", path,
			lineno);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* The kernel's current limits make the best defaults: programs see the
 * same SHMMAX/SHMALL/SHMMNI under ushm as without it. */
static uint64_t kernel_limit(const char *name, uint64_t dflt)
{
	char path[64];
	unsigned long long v;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	return ushm__read_number(path, &v) == 0 ? v : dflt;
}

static int parse_args(struct options *o, int argc, char **argv)
{
	enum { O_SHMMAX = 256, O_SHMALL, O_SHMMNI, O_SOCKMODE, O_DAEMONIZE,
	       O_READY, O_QUOTA_SEGS, O_QUOTA_BYTES, O_CONNS };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "shmmax", required_argument, NULL, O_SHMMAX },
		{ "shmall", required_argument, NULL, O_SHMALL },
		{ "shmmni", required_argument, NULL, O_SHMMNI },
		{ "socket-mode", required_argument, NULL, O_SOCKMODE },
		{ "quota-segments", required_argument, NULL, O_QUOTA_SEGS },
		{ "quota-bytes", required_argument, NULL, O_QUOTA_BYTES },
		{ "max-conns-per-uid", required_argument, NULL, O_CONNS },
		{ "foreground", no_argument, NULL, 'f' },
		{ "daemonize", no_argument, NULL, O_DAEMONIZE },
		{ "ready-fd", required_argument, NULL, O_READY },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	/* Flags override the config file: remember them, apply after. */
	const char *late[16][2];
	int nlate = 0, c;
	uint64_t v;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	o->log_level = USHM__LOG_INFO;
	o->socket_mode = geteuid() == 0 ? 0666 : 0600;
	o->lim.shmmax = kernel_limit("shmmax", KERNEL_SHMMAX);
	o->lim.shmall = kernel_limit("shmall", KERNEL_SHMALL);
	o->lim.shmmni = kernel_limit("shmmni", KERNEL_SHMMNI);
	if (o->lim.shmmni > USHM__IPCMNI)
		o->lim.shmmni = USHM__IPCMNI;
	o->lim.live = USHM__LIVE_SHMMAX | USHM__LIVE_SHMALL | USHM__LIVE_SHMMNI;
	o->lim.quota_segments = QUOTA_DEFAULT;
	o->lim.quota_bytes = QUOTA_DEFAULT;
	o->lim.owner_uid = geteuid();
	o->max_conns_per_uid = CONNS_PER_UID_DEFAULT;
	o->conns_default = 1;
	if (ushm__daemon_socket(o->socket_path, sizeof(o->socket_path)) < 0 ||
	    ushm__state_dir(o->state_dir, sizeof(o->state_dir)) < 0) {
		fprintf(stderr, "ushmd: default paths too long\n");
		return -1;
	}
	while ((c = getopt_long(argc, argv, "s:d:c:fl:hV", longopts, NULL)) !=
	       -1) {
		const char *name = NULL;

		switch (c) {
		case 's':
		case 'd': {
			char *dst = c == 's' ? o->socket_path : o->state_dir;
			size_t cap = c == 's' ? sizeof(o->socket_path) :
						sizeof(o->state_dir);

			if (strlen(optarg) >= cap) {
				fprintf(stderr, "ushmd: %s: path too long\n",
					optarg);
				return -1;
			}
			strcpy(dst, optarg);
			break;
		}
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->daemonize = 0;
			break;
		case O_DAEMONIZE:
			o->daemonize = 1;
			break;
		case O_READY:
			if (parse_u64(optarg, &v) < 0 || v > INT32_MAX) {
				fprintf(stderr, "ushmd: --ready-fd: %s: not a "
						"descriptor\n", optarg);
				return -1;
			}
			o->ready_fd = (int)v;
			break;
		case 'l':
			name = "log_level";
			break;
		case O_SHMMAX:
			name = "shmmax";
			break;
		case O_SHMALL:
			name = "shmall";
			break;
		case O_SHMMNI:
			name = "shmmni";
			break;
		case O_SOCKMODE:
			name = "socket_mode";
			break;
		case O_QUOTA_SEGS:
			name = "quota_segments";
			break;
		case O_QUOTA_BYTES:
			name = "quota_bytes";
			break;
		case O_CONNS:
			name = "max_conns_per_uid";
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("ushmd %s (protocol %u)\n", USHM_BUILD_VERSION,
			       USHM__PROTO_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'ushmd --help' for more "
					"information.\n");
			return -1;
		}
		if (name && nlate < 16) {
			late[nlate][0] = name;
			late[nlate++][1] = optarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ushmd: unexpected argument '%s'\n"
				"Try 'ushmd --help' for more information.\n",
			argv[optind]);
		return -1;
	}
	if (o->config && read_config(o, o->config) < 0)
		return -1;
	for (int i = 0; i < nlate; i++) {
		if (apply(o, late[i][0], late[i][1]) < 0) {
			fprintf(stderr, "ushmd: --%s: invalid value '%s'\n",
				late[i][0], late[i][1]);
			return -1;
		}
	}
	if (o->lim.quota_segments == QUOTA_DEFAULT)
		o->lim.quota_segments =
			o->lim.shmmni / QUOTA_SHARE ? o->lim.shmmni / QUOTA_SHARE :
						      1;
	/* quota_bytes needs the state filesystem's size: see main(). */
	return 0;
}

/* Only 0-2, the readiness pipe and an inherited listening socket are
 * ours; a daemon spawned by a client inherits whatever that client
 * forgot to mark CLOEXEC.  -1 keeps nothing. */
static void close_inherited(int keep_a, int keep_b)
{
	int lo = keep_a < keep_b ? keep_a : keep_b;
	int hi = keep_a < keep_b ? keep_b : keep_a;
	unsigned int from = 3;

	if (lo >= (int)from) {
		if (lo > (int)from)
			close_range(from, (unsigned int)lo - 1, 0);
		from = (unsigned int)lo + 1;
	}
	if (hi >= (int)from) {
		if (hi > (int)from)
			close_range(from, (unsigned int)hi - 1, 0);
		from = (unsigned int)hi + 1;
	}
	close_range(from, ~0u, 0);
}

/* The first descriptor the socket-activation protocol passes. */
#define LISTEN_FDS_START 3

/*
 * systemd's socket activation (sd_listen_fds(3)), read here rather than
 * through libsystemd so that the daemon depends on nothing: when
 * LISTEN_PID is our pid and LISTEN_FDS is 1, descriptor 3 is a listening
 * socket someone else bound for us.  Returns it (non-blocking and
 * close-on-exec, as our own would be), -1 when we were not activated,
 * or -errno when the descriptor is not a listening SEQPACKET socket.
 * The variables are removed so that nothing we run inherits them.
 */
static int activation_socket(void)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	int fd = LISTEN_FDS_START, type = 0, listening = 0, flags;
	socklen_t len = sizeof(type);
	char *end;
	long v;

	if (!pid || !fds)
		return -1;
	errno = 0;
	v = strtol(pid, &end, 10);
	if (*end || errno || v != (long)getpid())
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1") != 0)
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return -errno;
	if (type != SOCK_SEQPACKET || !listening)
		return -EINVAL;
	flags = fcntl(fd, F_GETFL);
	if (ushm__refuse_rights(fd) < 0 || flags < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return fd;
}

/* The path an inherited socket is bound to, for status and logs. */
static void activation_path(int fd, struct options *o)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
	    sa.sun_family == AF_UNIX && sa.sun_path[0])
		snprintf(o->socket_path, sizeof(o->socket_path), "%.*s",
			 (int)sizeof(sa.sun_path), sa.sun_path);
}

/*
 * Detaches.  The parent returns only once the daemon serves, so that
 * "ushmd --daemonize && program" finds it listening: it waits for one
 * byte on a pipe, which the child writes once clients are accepted
 * (*ready), and exits 0; or for the pipe's end, when the child failed
 * to start (having said why on standard error, still the caller's), and
 * exits 1.  Returns 0 in the child, or -errno.
 */
static int daemonize(int *ready)
{
	int p[2];
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	*ready = p[1];
	if (setsid() < 0)
		return -errno;
	return 0;
}

/* Tells whoever waits that clients are accepted: one byte, then the
 * descriptor closed (a failure only logged: the daemon serves anyway). */
static void say_ready(int fd, const char *what)
{
	if (fd < 0)
		return;
	if (write(fd, "1", 1) < 0)
		ushm__log(USHM__LOG_WARN, "%s: %s", what, strerror(errno));
	close(fd);
}

/* Descriptors kept back from clients: the daemon's own work (a segment's
 * files to create, open for shmat or rewrite, /proc files to read) must
 * never find the table full of connections. */
#define FD_MARGIN 32

/* Lets the daemon hold a descriptor per client and per open segment;
 * returns the lowest descriptor a client's connection may not have. */
static int raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return INT_MAX;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 &&
		    getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return INT_MAX;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		return INT_MAX;
	return rl.rlim_cur > 2 * FD_MARGIN ? (int)rl.rlim_cur - FD_MARGIN :
					     (int)rl.rlim_cur / 2;
}

static void redirect_std(int logfd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	if (logfd >= 0)
		dup2(logfd, 2);
}

/* A quarter of the bytes segments can hold: shmall's pages, or the
 * state filesystem's size (the real bound of a tmpfs), whichever is
 * smaller, without overflow (the kernel's default shmall is near 2^64
 * pages). */
static uint64_t default_quota_bytes(const struct ushm__server *srv,
				    const struct ushm__limits *lim)
{
	uint64_t page = (uint64_t)srv->reg.page_size, total = UINT64_MAX;
	struct statvfs fs;

	if (lim->shmall <= UINT64_MAX / page)
		total = lim->shmall * page;
	if (fstatvfs(ushm__store_dirfd(srv->store), &fs) == 0 &&
	    fs.f_blocks > 0 && fs.f_blocks <= UINT64_MAX / fs.f_frsize &&
	    (uint64_t)fs.f_blocks * fs.f_frsize < total)
		total = (uint64_t)fs.f_blocks * fs.f_frsize;
	total /= QUOTA_SHARE;
	return total >= page ? total / page * page : page;
}

/* The connections one user may hold, when not given: a quarter of the
 * daemon's descriptors if that is fewer than the default. */
static uint64_t conns_per_uid(const struct options *o, int fd_ceiling)
{
	if (o->conns_default && fd_ceiling > 0 &&
	    o->max_conns_per_uid > (uint64_t)fd_ceiling / QUOTA_SHARE)
		return (uint64_t)fd_ceiling / QUOTA_SHARE;
	return o->max_conns_per_uid;
}

int main(int argc, char **argv)
{
	struct ushm__server srv;
	struct ushm__server_conf conf = { .listen_fd = -1 };
	struct options o;
	int err, detached_ready = -1;

	if (parse_args(&o, argc, argv) < 0)
		return 2;
	conf.listen_fd = activation_socket();
	if (conf.listen_fd < -1) {
		fprintf(stderr, "ushmd: LISTEN_FDS: not one listening "
			"SOCK_SEQPACKET socket: %s\n", strerror(-conf.listen_fd));
		return 1;
	}
	if (conf.listen_fd >= 0)
		activation_path(conf.listen_fd, &o);
	close_inherited(o.ready_fd, conf.listen_fd);
	ushm__limits_open(&o.lim);
	umask(077);
	if (chdir("/") < 0)
		return 1;
	conf.fd_ceiling = raise_fd_limit();
	if (o.daemonize && daemonize(&detached_ready) < 0) {
		perror("ushmd: fork");
		return 1;
	}
	ushm__log_setup(o.log_level, 2, -1);
	conf.state_dir = o.state_dir;
	conf.socket_path = o.socket_path;
	conf.socket_mode = o.socket_mode;
	conf.lim = &o.lim;
	conf.max_conns_per_uid = conns_per_uid(&o, conf.fd_ceiling);
	conf.log_level = o.log_level;
	conf.flags = USHM__SERVER_SIGNALS | USHM__SERVER_PUBLISH |
		     USHM__SERVER_FORK_SOCKET |
		     (o.daemonize ? USHM__SERVER_LOG_FILE : 0);
	err = ushm__server_open(&srv, &conf);
	if (err < 0) {
		ushm__server_close(&srv);
		return 1;
	}
	if (srv.reg.lim.quota_bytes == QUOTA_DEFAULT)
		srv.reg.lim.quota_bytes = default_quota_bytes(&srv, &o.lim);
	ushm__log(USHM__LOG_INFO,
		  "serving %s from %s: %d segment(s); shmmax %" PRIu64
		  " shmall %" PRIu64 " shmmni %" PRIu64 "; per user: %" PRIu64
		  " segments, %" PRIu64 " bytes, %" PRIu64 " connections",
		  o.socket_path, o.state_dir, srv.reg.in_use, o.lim.shmmax,
		  o.lim.shmall, o.lim.shmmni, srv.reg.lim.quota_segments,
		  srv.reg.lim.quota_bytes, srv.max_conns_per_uid);
	if (o.daemonize) {
		redirect_std(srv.log_fd);
		ushm__log_setup(o.log_level, 2, -1);
		if (srv.log_fd >= 0) {
			close(srv.log_fd);
			srv.log_fd = -1;
			/* On the segments' filesystem: bounded. */
			ushm__log_bound(ushm__store_dirfd(srv.store),
					"ushmd.log", LOG_MAX_BYTES);
		}
	}
	/* The spawner waits for this byte (or EOF on failure); so does
	 * the parent --daemonize left, which holds a copy of the ready fd:
	 * it is told first, so that when the ready fd's reader sees its
	 * end, the daemon holds neither (it writes a byte, then closes: the
	 * parent, woken by the byte, may exit before that close). */
	say_ready(detached_ready, "the detaching parent");
	say_ready(o.ready_fd, "ready fd");
	err = ushm__server_run(&srv);
	ushm__log(USHM__LOG_INFO, "stopped; segments kept in %s", o.state_dir);
	ushm__server_close(&srv);
	return err < 0 ? 1 : 0;
}

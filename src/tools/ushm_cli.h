/*
 * ushm_cli.h - what the pieces of the ushm command share.
 *
 * The listing and removal code never calls shmctl or ushm_ctl directly:
 * it goes through a backend, so that the same code can run on ushm or on
 * the kernel's own segments (ushm --kernel), whose output ipcs and ipcrm
 * can then check.
 */
#ifndef USHM_CLI_H
#define USHM_CLI_H

#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <ushm.h>

/*
 * Exit statuses of every subcommand.  ipcrm exits 1 whatever went wrong;
 * we keep 1 for "the thing asked for is not there" and give the other
 * failures their own codes so that scripts can tell them apart.
 */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* no such segment; no daemon runs */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_DENIED = 3,	/* EPERM or EACCES */
	EXIT_ERROR = 4,		/* anything else: daemon unreachable */
};

/* The calls a backend provides, with the signatures of the SysV calls. */
struct backend {
	const char *name;	/* "ushm" or "kernel", for messages */
	int (*get)(key_t key, size_t size, int shmflg);
	int (*ctl)(int shmid, int cmd, struct shmid_ds *buf);
	void *(*at)(int shmid, const void *shmaddr, int shmflg);
	int (*dt)(const void *shmaddr);
	/* ushm_holders, or NULL where nobody can tell (the kernel). */
	int (*holders)(int shmid, struct ushm_holder *buf, size_t max);
};

/*
 * Every mapping of shmid by a process holding it, in a malloc'd array
 * (*out, freed by the caller).  Returns how many, or -1 with errno
 * (ENOTSUP when the backend cannot tell).
 */
int fetch_holders(const struct backend *be, int shmid,
		  struct ushm_holder **out);

extern const struct backend backend_ushm;
extern const struct backend backend_kernel;

/* What a subcommand runs with: no global mutable state, only this. */
struct cli {
	const struct backend *be;
	const char *cmd;	/* subcommand name, e.g. "rm", for messages */
	FILE *out;
	FILE *err;
};

/* Subcommands: argv[0] is the subcommand's name; return an exit status. */
int cmd_ls(struct cli *cli, int argc, char **argv);
int cmd_rm(struct cli *cli, int argc, char **argv);
int cmd_daemon(struct cli *cli, int argc, char **argv);
int cmd_stat(struct cli *cli, int argc, char **argv);
int cmd_mk(struct cli *cli, int argc, char **argv);
int cmd_cat(struct cli *cli, int argc, char **argv);
int cmd_write(struct cli *cli, int argc, char **argv);
int cmd_top(struct cli *cli, int argc, char **argv);

/*
 * Parses a segment id as ipcrm does: decimal only ("010" is ten).
 * Returns 0, or -1 (the caller reports a usage error).
 */
int parse_id(const char *s, int *id);
/* Parses a key as ipcrm does: decimal, 0x hex or 0 octal.  0 or -1. */
int parse_key(const char *s, key_t *key);

/* One segment found while scanning the backend's table. */
struct seg {
	int shmid;
	struct shmid_ds ds;
};

/* The segments of a backend, in index order. */
struct seg_table {
	struct seg *segs;
	size_t n;
	size_t cap;
};

/*
 * Fills t with every segment, as ipcs does without /proc: SHM_INFO gives
 * the highest index in use, SHM_STAT_ANY (or SHM_STAT where the backend
 * lacks it) turns each index into an id and its data.  Returns 0, or -1
 * with errno set when the table cannot be read (t is then empty).
 * The caller frees t with free_segments().
 */
int collect_segments(const struct backend *be, struct seg_table *t);
void free_segments(struct seg_table *t);

/* Messages: "ushm: CMD: ..." on cli->err, one line each. */
void cli_error(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A usage error: the message, then a hint to --help, on one line. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The symbolic name of an errno value ("EINVAL"), or its number. */
const char *errno_name(int err, char *buf, size_t len);
/* The exit status a failed call with errno err deserves. */
int exit_for_errno(int err);

/*
 * Reports an unknown option or a missing argument found by getopt_long
 * (called with opterr = 0 and a leading ':' in the option string, so
 * getopt itself prints nothing); returns EXIT_USAGE.  Every long option
 * must have its own val above 255, so that misuse can be traced to it.
 */
struct option;
int cli_bad_option(const struct cli *cli, int c, char **argv,
		   const struct option *longopts);

/* Flushes cli->out and reports a failed write; returns an exit status. */
int cli_finish_output(const struct cli *cli, int status);

#endif /* USHM_CLI_H */

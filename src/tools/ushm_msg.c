/*
 * ushm_msg.c - error messages and exit statuses shared by the
 * subcommands, so that every failure reads "ushm: CMD: what: why" on a
 * single line.
 */
#include "ushm_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Our own table rather than strerrorname_np(): that one needs glibc 2.32
 * and the names below are all a shared-memory tool can meet.
 */
static const struct {
	int err;
	const char *name;
} names[] = {
	{ EPERM, "EPERM" },
	{ ENOENT, "ENOENT" },
	{ EINTR, "EINTR" },
	{ EIO, "EIO" },
	{ E2BIG, "E2BIG" },
	{ EBADF, "EBADF" },
	{ EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" },
	{ EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" },
	{ EEXIST, "EEXIST" },
	{ EINVAL, "EINVAL" },
	{ ENFILE, "ENFILE" },
	{ EMFILE, "EMFILE" },
	{ ENOSPC, "ENOSPC" },
	{ EPIPE, "EPIPE" },
	{ ERANGE, "ERANGE" },
	{ ENAMETOOLONG, "ENAMETOOLONG" },
	{ ENOSYS, "ENOSYS" },
	{ EIDRM, "EIDRM" },
	{ EPROTO, "EPROTO" },
	{ EOVERFLOW, "EOVERFLOW" },
	{ ENOTSOCK, "ENOTSOCK" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT" },
	{ EOPNOTSUPP, "EOPNOTSUPP" },
	{ ECONNRESET, "ECONNRESET" },
	{ ENOTCONN, "ENOTCONN" },
	{ ETIMEDOUT, "ETIMEDOUT" },
	{ ECONNREFUSED, "ECONNREFUSED" },
};

const char *errno_name(int err, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(buf, len, "errno %d", err);
	return buf;
}

int exit_for_errno(int err)
{
	switch (err) {
	case EINVAL:
	case EIDRM:
	case ENOENT:
		return EXIT_FAILED;
	case EPERM:
	case EACCES:
		return EXIT_DENIED;
	default:
		return EXIT_ERROR;
	}
}

/*
 * Formats "ushm: CMD: message" plus tail, and writes it with one call so
 * that the line stays whole even when others write to the same stderr.
 */
static void vmessage(const struct cli *cli, const char *fmt, va_list ap,
		     const char *tail)
{
	char line[1024];
	size_t n;
	int r;

	if (cli->cmd)
		r = snprintf(line, sizeof(line), "ushm: %s: ", cli->cmd);
	else
		r = snprintf(line, sizeof(line), "ushm: ");
	n = r < 0 ? 0 : (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, "%s", tail);
	/* A message cut short must still end its line. */
	n = strlen(line);
	if (n > 0 && line[n - 1] != '\n' && *tail)
		line[n - 1] = '\n';
	/* Nowhere left to report a failure to write an error. */
	(void)fputs(line, cli->err);
}

void cli_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cli, fmt, ap, "\n");
	va_end(ap);
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	char tail[128];
	va_list ap;

	if (cli->cmd)
		snprintf(tail, sizeof(tail), " (try 'ushm %s --help')\n",
			 cli->cmd);
	else
		snprintf(tail, sizeof(tail), " (try 'ushm --help')\n");
	va_start(ap, fmt);
	vmessage(cli, fmt, ap, tail);
	va_end(ap);
	return EXIT_USAGE;
}

int cli_bad_option(const struct cli *cli, int c, char **argv,
		   const struct option *longopts)
{
	const struct option *o;
	const char *word = argv[optind - 1];
	int len;

	/*
	 * getopt_long leaves optopt at 0 for a long option it does not
	 * know (the word it skipped is then the culprit), at the option's
	 * val for a known long option misused (so every long option has
	 * its own val above 255), and at the letter for a short option.
	 */
	if (optopt > 255) {
		for (o = longopts; o && o->name; o++)
			if (o->val == optopt)
				break;
		if (o && o->name && c == ':')
			return cli_usage_error(cli,
				"option '--%s' needs an argument", o->name);
		if (o && o->name)
			return cli_usage_error(cli,
				"option '--%s' takes no argument", o->name);
	}
	if (optopt > 0 && optopt <= 255) {
		if (c == ':')
			return cli_usage_error(cli,
				"option '-%c' needs an argument", optopt);
		return cli_usage_error(cli, "unknown option '-%c'", optopt);
	}
	len = (int)strcspn(word, "=");
	return cli_usage_error(cli, "unknown or ambiguous option '%.*s'",
			       len, word);
}

int cli_finish_output(const struct cli *cli, int status)
{
	if (fflush(cli->out) != 0 || ferror(cli->out)) {
		cli_error(cli, "cannot write the output");
		if (status == EXIT_OK)
			status = EXIT_ERROR;
	}
	return status;
}

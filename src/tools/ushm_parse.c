/*
 * ushm_parse.c - ids and keys on the command line, read as ipcrm reads
 * them, so that the same words mean the same segments everywhere.
 */
#include "ushm_cli.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

int parse_id(const char *s, int *id)
{
	char *end;
	long v;

	/* Decimal only, as ipcrm: "010" is ten, "0x10" an error. */
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < INT_MIN || v > INT_MAX)
		return -1;
	*id = (int)v;
	return 0;
}

int parse_key(const char *s, key_t *key)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (end == s || *end || errno || v < INT32_MIN || v > UINT32_MAX)
		return -1;
	*key = (key_t)(int32_t)(uint32_t)v;
	return 0;
}

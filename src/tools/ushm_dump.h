/*
 * ushm_dump.h - the hexdump -C format of "ushm cat --hex".
 */
#ifndef USHM_DUMP_H
#define USHM_DUMP_H

#include <stddef.h>
#include <stdio.h>

void hexdump(FILE *out, const unsigned char *p, size_t len);

#endif /* USHM_DUMP_H */

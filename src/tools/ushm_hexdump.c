/*
 * ushm_hexdump.c - bytes as hexdump -C shows them: offset, 16 bytes in
 * two groups of 8, the printable ones between bars; a run of lines equal
 * to the one before is one "*"; the length closes the dump.
 */
#include "ushm_dump.h"

#include <string.h>

static void line(FILE *out, size_t off, const unsigned char *p, size_t n)
{
	fprintf(out, "%08zx ", off);
	for (size_t i = 0; i < 16; i++) {
		if (i % 8 == 0)
			fputc(' ', out);
		if (i < n)
			fprintf(out, "%02x ", p[i]);
		else
			fputs("   ", out);
	}
	fputs(" |", out);
	for (size_t i = 0; i < n; i++)
		fputc(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.', out);
	fputs("|\n", out);
}

void hexdump(FILE *out, const unsigned char *p, size_t len)
{
	int starred = 0;

	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		if (off > 0 && n == 16 &&
		    memcmp(p + off, p + off - 16, 16) == 0) {
			if (!starred)
				fputs("*\n", out);
			starred = 1;
			continue;
		}
		starred = 0;
		line(out, off, p + off, n);
	}
	if (len > 0)
		fprintf(out, "%08zx\n", len);
}

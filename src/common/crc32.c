/*
 * crc32.c - bitwise CRC-32; the records it guards are 128 bytes, so a
 * table would buy nothing measurable.
 */
#include "crc32.h"

uint32_t ushm__crc32(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

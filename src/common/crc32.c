/*
 * crc32.c - CRC-32 (IEEE 802.3, reflected), four bits at a time.
 *
 * The daemon checksums a 128-byte record at every create and at every
 * change of a segment's metadata.  Bit by bit that was 9% of the
 * daemon's time in a create + IPC_RMID loop; a 16-entry table (the CRC
 * of each four-bit value) does the same in a quarter of the steps and
 * fits in one cache line.
 */
#include "crc32.h"

static const uint32_t nibble[16] = {
	0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
	0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
	0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
	0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
};

uint32_t ushm__crc32(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ nibble[crc & 15u];
		crc = (crc >> 4) ^ nibble[crc & 15u];
	}
	return ~crc;
}

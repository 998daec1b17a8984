/* crc32.h - CRC-32 (IEEE 802.3) to detect torn metadata records. */
#ifndef USHM_CRC32_H
#define USHM_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t ushm__crc32(const void *buf, size_t len);

#endif

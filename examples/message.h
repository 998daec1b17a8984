/*
 * message.h - the layout the example writer and reader share: one page
 * with a ready flag, a length and the text.  The flag is written last
 * (release) and read first (acquire), so a reader that sees it set also
 * sees the whole text.
 */
#ifndef EXAMPLE_MESSAGE_H
#define EXAMPLE_MESSAGE_H

#include <stdint.h>

#define EXAMPLE_KEY 1234 /* the tutorial's key, 0x4d2 */
#define EXAMPLE_SIZE 4096

struct message {
	uint32_t ready; /* 0 until the text is complete */
	uint32_t len;
	char text[EXAMPLE_SIZE - 8];
};

_Static_assert(sizeof(struct message) == EXAMPLE_SIZE, "one page");

#endif

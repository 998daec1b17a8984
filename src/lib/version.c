/*
 * version.c - ushm_version(), and the check that include/ushm.h's
 * USHM_VERSION_* macros say what the Makefile's VERSION says.
 */
#include "ushm.h"

#if !defined(USHM_BUILD_VERSION) || !defined(USHM_BUILD_MAJOR) || \
	!defined(USHM_BUILD_MINOR) || !defined(USHM_BUILD_PATCH)
#error "build with the Makefile: it passes the version (USHM_BUILD_*)"
#endif

#if USHM_VERSION_MAJOR != USHM_BUILD_MAJOR || \
	USHM_VERSION_MINOR != USHM_BUILD_MINOR || \
	USHM_VERSION_PATCH != USHM_BUILD_PATCH
#error "include/ushm.h's USHM_VERSION_* differ from the Makefile's VERSION: set them to it"
#endif

const char *ushm_version(void)
{
	return USHM_BUILD_VERSION;
}

# tests/quality/quality.mk - the quality gates of make check.
# Included by the root Makefile, which provides BUILD, CC, MAKE and
# CHECK_BINS; everything defined here is QUALITY_* or lint*.
#
#   tests/quality/sanitizers.t  the suite again, on an ASan+UBSan build
#                               (build-san/, made here through CHECK_BINS)
#   tests/quality/valgrind.t    ushmd under valgrind: no error, no leak
#   tests/quality/static.t      make lint: cppcheck and clang-tidy, no
#                               finding
#
#   make lint                   the static analysis alone
#   make san-bins               only builds build-san/
#
# Debian packages: valgrind, cppcheck, clang-tidy (the tests fail, they
# do not skip, where one is missing).

QUALITY_DIR := tests/quality
QUALITY_SAN_BUILD := build-san

.PHONY: san-bins lint lint-cppcheck lint-clang-tidy

# The sanitizer build is a make of its own (SANITIZE=1 changes the flags
# of every object).  BUILD is given on its command line because a BUILD
# given to this make travels in MAKEFLAGS.  FUZZ_AVAILABLE=no: fuzz.t does
# not run against build-san (see sanitizers.t), so the clang fuzz targets
# of $(BUILD)/fuzz are not compiled a second time there.  When this make
# is itself the SANITIZE=1 one, build-san is being built already.
san-bins:
	$(MAKE) SANITIZE=1 BUILD=$(QUALITY_SAN_BUILD) FUZZ_AVAILABLE=no \
		test-bins

ifneq ($(abspath $(BUILD)),$(abspath $(QUALITY_SAN_BUILD)))
CHECK_BINS += san-bins
endif

# ---- static analysis ----
# What is analysed: every C file of the project but the tests (tests/
# break rules on purpose: hostile clients, forged messages).  The fuzz
# targets are clang/libFuzzer code of their own, checked by their run.
LINT_SRCS := $(sort $(wildcard src/*/*.c) $(wildcard bench/*.c) \
	       $(wildcard examples/*.c))
LINT_INCLUDES := -Iinclude -Isrc
# The defines the Makefile gives some files; without them a file's
# #ifdef branches would go unanalysed.
LINT_DEFINES := -DUSHM_BUILDING -DUSHM_BINDIR='"/usr/local/bin"' \
		-DUSHM_LIBDIR='"/usr/local/lib"' \
		-DUSHM_LIBDIR_FROM_BINDIR='"../lib"' $(VERSION_DEFINES)
CPPCHECK ?= cppcheck
CLANG_TIDY ?= $(shell command -v clang-tidy 2>/dev/null || \
		      command -v clang-tidy-14 2>/dev/null || echo clang-tidy)

# cppcheck: its options and checks are in tests/quality/cppcheck.cfg (one
# option per line, # comments), the suppressions of findings that are no
# bug in tests/quality/cppcheck.supp.  --error-exitcode: any finding
# fails.  No --cppcheck-build-dir: with its cache a second run takes the
# whole-program findings' suppressions for unmatched.  (It takes a few
# seconds.)
lint-cppcheck:
	$(CPPCHECK) $$(sed -e 's/#.*//' -e '/^[[:space:]]*$$/d' \
			$(QUALITY_DIR)/cppcheck.cfg) \
		--suppressions-list=$(QUALITY_DIR)/cppcheck.supp \
		--error-exitcode=1 $(LINT_INCLUDES) $(LINT_DEFINES) \
		$(LINT_SRCS)

# clang-tidy: the checks are in .clang-tidy (why each is on or off);
# findings that are no bug carry NOLINT(check) and the reason where they
# are, or a line in tests/quality/clang-tidy.supp.  Any other fails.
lint-clang-tidy:
	CLANG_TIDY=$(CLANG_TIDY) $(QUALITY_DIR)/clang-tidy.sh \
		$(QUALITY_DIR)/clang-tidy.supp $(LINT_SRCS) -- \
		-std=gnu11 $(LINT_INCLUDES) $(LINT_DEFINES)

lint: lint-cppcheck lint-clang-tidy

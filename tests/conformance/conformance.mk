# tests/conformance/conformance.mk - builds the conformance programs.
#
# Included by the root Makefile; also works alone:
#   make -f tests/conformance/conformance.mk BUILD=build conformance-bins
#
# The programs are plain SysV programs (libc only, no ushm headers or
# libraries): the same binary runs against the kernel and under ushm-run.

BUILD ?= build
CC ?= cc

CONF_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CONF_OUT := $(BUILD)/tests/conformance
CONF_SRCS := $(sort $(wildcard $(CONF_DIR)/*.c))
CONF_HDRS := $(wildcard $(CONF_DIR)/*.h)
CONF_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -g

CONFORMANCE_BINS := $(patsubst $(CONF_DIR)/%.c,$(CONF_OUT)/%,$(CONF_SRCS))

.PHONY: conformance-bins
conformance-bins: $(CONFORMANCE_BINS)

$(CONF_OUT)/%: $(CONF_DIR)/%.c $(CONF_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CONF_CFLAGS) -o $@ $<

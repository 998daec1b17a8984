# tests/dropin/dropin.mk - programs of the drop-in tests (tests/dropin/*.t):
# what ushm-run must catch besides plain calls to shmget & co.  Included
# by the root Makefile, which provides BUILD, CC, CFLAGS, LDFLAGS, LDLIBS
# and LIBUSHM_SO.

DROPIN_OUT := $(BUILD)/tests/dropin
# mixed: ushm_* through libushm.so and the SysV calls through the shim.
DROPIN_BINS := $(DROPIN_OUT)/mixed $(DROPIN_OUT)/rawsys

CHECK_BINS += $(DROPIN_BINS)

$(DROPIN_OUT)/mixed: tests/dropin/mixed.c $(LIBUSHM_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -L$(BUILD)/lib -lushm \
		-Wl,-rpath,'$$ORIGIN/../../lib' $(LDLIBS)

# Plain programs that know nothing of ushm.
$(DROPIN_OUT)/rawsys: tests/dropin/rawsys.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

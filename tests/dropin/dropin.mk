# tests/dropin/dropin.mk - programs of the drop-in tests (tests/dropin/*.t):
# what ushm-run must catch besides plain calls to shmget & co.  Included
# by the root Makefile, which provides BUILD, CC, CFLAGS, LDFLAGS, LDLIBS
# and LIBUSHM_SO.

DROPIN_OUT := $(BUILD)/tests/dropin
# mixed: ushm_* through libushm.so and the SysV calls through the shim.
DROPIN_BINS := $(DROPIN_OUT)/mixed $(DROPIN_OUT)/rawsys \
	       $(DROPIN_OUT)/deepbind $(DROPIN_OUT)/libdeep-lazy.so \
	       $(DROPIN_OUT)/libdeep-now.so

CHECK_BINS += $(DROPIN_BINS)

$(DROPIN_OUT)/mixed: tests/dropin/mixed.c $(LIBUSHM_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -L$(BUILD)/lib -lushm \
		-Wl,-rpath,'$$ORIGIN/../../lib' $(LDLIBS)

# Plain programs that know nothing of ushm.
$(DROPIN_OUT)/rawsys: tests/dropin/rawsys.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# deepbind loads libdeep-*.so with RTLD_DEEPBIND: one bound lazily with a
# writable GOT, one with full RELRO (its GOT read-only once loaded).
$(DROPIN_OUT)/deepbind: tests/dropin/deepbind.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -o $@ $< -ldl

$(DROPIN_OUT)/libdeep-lazy.so: tests/dropin/deeplib.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-z,lazy,-z,norelro -o $@ $<

$(DROPIN_OUT)/libdeep-now.so: tests/dropin/deeplib.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-z,now,-z,relro -o $@ $<

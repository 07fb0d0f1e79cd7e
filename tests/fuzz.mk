# SPDX-License-Identifier: GPL-2.0
#
# Hostile input: sanitizer builds and libFuzzer targets (included by the
# Makefile, so OUT, CLANG, XS_CFLAGS, ... are the Makefile's).
#   make test-asan        the unit tests, a CLI smoke run and the fuzz
#                         targets' seeds and crash reproducers, all under
#                         ASan+UBSan (make test runs these too)
#   make test-asan-build  build all of that without running it
#   make fuzz             fuzz each target for FUZZ_SECONDS (60) from its
#                         corpus; fails when one crashes
#   make fuzz FUZZ_TARGETS="fuzz_cli"   only these
#   make fuzz-regress     replay tests/fuzz/corpus/ and tests/fuzz/regress/
#
# $(OUT)/asan/ is the whole tree again (CLI, unit tests, BPF object) built
# by this Makefile with the sanitizers on, by $(CC) (gcc: its libasan and
# libubsan come with it; with CC=clang the BPF build's include path, from
# `$(CC) -dumpmachine`, would be wrong). $(OUT)/fuzz/ holds the fuzz
# targets: clang's libFuzzer (libclang-rt-19-dev), linked with the loader's
# objects (all but main.c) compiled with coverage instrumentation.

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	     -fno-omit-frame-pointer
ASAN_OUT := $(OUT)/asan
ASAN_CFLAGS := -O1 -g $(SAN_FLAGS)

FUZZ_OUT := $(OUT)/fuzz
FUZZ_CFLAGS := -O1 -g $(SAN_FLAGS) -fsanitize=fuzzer-no-link
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst loader/%.c,$(FUZZ_OUT)/loader/%.o,\
		   $(filter-out loader/main.c,$(LOADER_SRCS)))
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(notdir $(FUZZ_BINS))

.PHONY: test-asan test-asan-build fuzz-build fuzz fuzz-regress

$(FUZZ_OUT) $(FUZZ_OUT)/loader:
	$(Q)mkdir -p $@

# gcc's -Werror build is the one that holds the loader to no warnings; what
# clang alone warns about is shown here, and does not stop the tests.
$(FUZZ_OUT)/loader/%.o: loader/%.c $(LOADER_HDRS) $(SKELS) | $(FUZZ_OUT)/loader
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(XS_CFLAGS) -Wno-error -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJS) $(LOADER_HDRS) \
		    $(SKELS) | $(FUZZ_OUT)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(XS_CFLAGS) $< $(FUZZ_LIB_OBJS) \
		-o $@ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# The same sources, the same rules, another output directory.
test-asan-build: fuzz-build
	$(Q)$(MAKE) --no-print-directory OUT=$(ASAN_OUT) CFLAGS='$(ASAN_CFLAGS)' all unit

# tests/run-all.sh runs whatever of the sanitizer builds it finds; the
# names of those results all contain "asan".
test-asan: test-asan-build
	$(Q)OUT=$(OUT) tests/run-all.sh asan

fuzz: fuzz-build
	$(Q)scripts/fuzz.sh run $(FUZZ_OUT) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	$(Q)scripts/fuzz.sh replay $(FUZZ_OUT) $(FUZZ_TARGETS)

# SPDX-License-Identifier: GPL-2.0
#
# xfrm-steer build. Everything goes to $(OUT); `make V=1` shows commands.
#   make            build the CLI and the BPF object
#   make test       unit tests on this machine, integration tests in a VM
#   make test T=x   only the tests whose name contains x
#   make test-newest  the integration tests in Debian's newest kernel
#                   (trixie-backports); .ci/run runs it after make test
#   make soak       10 minutes of load on 10,000 tunnels in the VM
#   make demo       the multi-tenant demo (in the VM when this kernel lacks
#                   xfrm interfaces)

OUT ?= build
CLANG ?= clang-19
BPFTOOL ?= bpftool
CC ?= gcc
VERSION := 0.1.0

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# Skeletons are inputs of the loader, not leftovers to delete.
.SECONDARY:
.SUFFIXES:

ABI_H := include/xfrm_steer.h
# Each bpf/NAME.bpf.c becomes $(OUT)/NAME.bpf.o and a skeleton NAME.skel.h
# (struct NAME) that the loader embeds.
BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.h) $(ABI_H)

# loader/*.c are the CLI's verbs, one file per object; loader/lib/*.c the
# engine and kernel I/O they call (no argv, no printing policy).
LOADER_SRCS := $(sort $(wildcard loader/*.c loader/lib/*.c))
LOADER_OBJS := $(patsubst loader/%.c,$(OUT)/loader/%.o,$(LOADER_SRCS))
LOADER_HDRS := $(wildcard loader/*.h loader/lib/*.h) $(ABI_H)
BIN := $(OUT)/xfrm-steer

# The BPF object is built against UAPI headers and the ABI header only, never
# against the running kernel's BTF: the test kernel is not the build kernel.
BPF_CFLAGS := -g -O2 --target=bpf -Wall -Werror -Iinclude \
	      -I/usr/include/$(shell $(CC) -dumpmachine)

PKGS := libbpf libmnl json-c libmicrohttpd
CFLAGS ?= -O2 -g
XS_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iloader -Iloader/lib -I$(OUT) \
	     -DXS_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps test test-newest soak unit demo clean prev
all: $(BIN) $(BPF_OBJS)

# Installs what is missing; quick when everything is there.
deps:
	$(Q)scripts/deps.sh

$(OUT) $(OUT)/loader $(OUT)/tests:
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# -MMD: each object also depends on the headers it really includes, as
# the compiler found them (build/loader/*.d).
$(OUT)/loader/%.o: loader/%.c $(LOADER_HDRS) $(SKELS) | $(OUT)/loader
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(XS_CFLAGS) -MMD -MP -c $< -o $@

$(BIN): $(LOADER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Unit tests link the loader's objects except main.
LIB_OBJS := $(filter-out $(OUT)/loader/main.o,$(LOADER_OBJS))

$(OUT)/tests/%: tests/unit/%.c $(LIB_OBJS) $(LOADER_HDRS) $(SKELS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(XS_CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) -lcmocka

# A BPF program only the datapath unit tests load (tests/unit/ingress_shim.bpf.c):
# it gives a test packet the if_id xs_ingress wants, then runs xs_ingress.
SHIM_OBJ := $(OUT)/ingress_shim.bpf.o

$(SHIM_OBJ): tests/unit/ingress_shim.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/tests/test_datapath: $(OUT)/ingress_shim.skel.h

unit: $(UNIT_TESTS)

test: deps
	$(Q)$(MAKE) --no-print-directory all unit
	$(Q)$(MAKE) --no-print-directory test-asan-build test-hooks
	$(Q)$(MAKE) --no-print-directory prev
	$(Q)XS_KERNEL=default tests/run-all.sh $(T)

# The VM integration suite again, in Debian's newest kernel (fetched by
# scripts/vmtest.sh through a private apt configuration; fails when it
# cannot be had). Not part of `make test`, which stays on 6.12.
test-newest: deps
	$(Q)$(MAKE) --no-print-directory all unit
	$(Q)$(MAKE) --no-print-directory test-hooks prev
	$(Q)XS_KERNEL=newest tests/run-all.sh --vm-only $(T)

# A long run in the VM (tests/soak.sh; not part of make test): 10,000
# tunnels, traffic, route churn, rekeys, a monitor and exporter scrapes for
# XS_SOAK_SECONDS (default 600), then counters, leaks and logs checked.
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)XS_VM_MEM=$${XS_VM_MEM:-4G} XS_VM_TIMEOUT=$${XS_VM_TIMEOUT:-3600} \
		scripts/vmtest.sh -- tests/soak.sh

# The CLI with the engine's test hooks (XS_APPLY_CRASH_AFTER and
# XS_APPLY_FAIL_AFTER, lib/exec.c), for the tests that kill or fail a run
# half way; the shipped $(BIN) has no hooks.
.PHONY: test-hooks
test-hooks:
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/test-hooks \
		CFLAGS='$(CFLAGS) -DXS_TEST_HOOKS' $(OUT)/test-hooks/xfrm-steer

# The CLIs of the versions named in tests/upgrade-from (the oldest main
# whose pins this one migrates) and tests/upgrade-from-last (the last main),
# for the tests that upgrade a gateway they attached.
prev:
	$(Q)scripts/build-prev.sh $(OUT)/prev $(shell cat tests/upgrade-from)
	$(Q)scripts/build-prev.sh $(OUT)/prev-last $(shell cat tests/upgrade-from-last)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

clean:
	$(Q)rm -rf $(OUT)

-include $(LOADER_OBJS:.o=.d)

include install.mk

include tests/fuzz.mk
include bench/bench.mk

# SPDX-License-Identifier: GPL-2.0
#
# Benchmarks, included from the main Makefile (it defines OUT, CLANG, BPFTOOL,
# CC, BPF_CFLAGS, XS_CFLAGS, LDLIBS, ABI_H, msg and Q, and how to make
# $(OUT)/xfrm_steer.skel.h).
#   make bench      per-packet egress cost through BPF_PROG_TEST_RUN on this
#                   kernel (root); Markdown on stdout, JSON in $(OUT)/bench/
# BENCH_REPEAT, BENCH_RUNS, BENCH_SAMPLES and BENCH_CPU tune it (see
# bench/bench_egress.c).

# The benchmark drives the datapath object through its skeleton.
BENCH_XS_SKEL := $(OUT)/xfrm_steer.skel.h
BENCH_REF_OBJ := $(OUT)/bench_ref.bpf.o
BENCH_REF_SKEL := $(OUT)/bench_ref.skel.h
BENCH_EGRESS := $(OUT)/bench/bench_egress
BENCH_JSON := $(OUT)/bench/results.json

.PHONY: bench

$(OUT)/bench:
	$(Q)mkdir -p $@

# Explicit: the reference programs live in bench/, not bpf/, and are not
# part of the CLI.
$(BENCH_REF_OBJ): bench/bench_ref.bpf.c $(ABI_H) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_REF_SKEL): $(BENCH_REF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name bench_ref > $@

# Both skeletons embed their objects: the benchmark needs no file at run time.
$(BENCH_EGRESS): bench/bench_egress.c $(ABI_H) $(BENCH_XS_SKEL) $(BENCH_REF_SKEL) | $(OUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(XS_CFLAGS) $< -o $@ $(LDLIBS)

bench: all unit $(BENCH_REF_SKEL) $(BENCH_EGRESS)
	$(Q)$(BENCH_EGRESS) $(BENCH_JSON)
	@echo
	@echo "## Statistics dump: 100,000 tunnels in pinned maps (this kernel)"
	$(Q)XS_BENCH_CLI=$(abspath $(BIN)) CMOCKA_MESSAGE_OUTPUT=STDOUT \
		$(OUT)/tests/test_stats_read 2>&1 | grep -E ' ms$$' | sed 's/^/- /'

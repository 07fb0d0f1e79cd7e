# SPDX-License-Identifier: GPL-2.0
#
# Benchmarks, included from the main Makefile (it defines OUT, CLANG, BPFTOOL,
# CC, BPF_CFLAGS, XS_CFLAGS, LDLIBS, ABI_H, msg and Q, and how to make
# $(OUT)/xfrm_steer.skel.h). "make bench" (root) runs:
#   1. the per-packet egress cost through BPF_PROG_TEST_RUN on this kernel
#      (bench/bench_egress.c; BENCH_REPEAT, BENCH_RUNS, BENCH_SAMPLES and
#      BENCH_CPU tune it), the same under route churn and a tenant's hit rate
#      while another scans (BENCH_CHURN_PACKETS), the kernel memory of an
#      attached device by size (BENCH_PARTS picks among egress, churn and
#      memory), and 100,000 tunnels' counters read from pinned maps
#   2. in the test VM, booted once (bench/bench-vm.sh): setup of N tunnels by
#      apply and by ip -batch, one interface per tunnel versus routes, and
#      the statistics dump of BENCH_DUMP_N tunnels; BENCH_VM_N, BENCH_VM_RUNS,
#      BENCH_DUMP_N, BENCH_DUMP_RUNS tune it, BENCH_VM=0 skips it
# Markdown on stdout; every figure in $(OUT)/bench/results.json.

# The benchmark drives the datapath object through its skeleton.
BENCH_XS_SKEL := $(OUT)/xfrm_steer.skel.h
BENCH_REF_OBJ := $(OUT)/bench_ref.bpf.o
BENCH_REF_SKEL := $(OUT)/bench_ref.skel.h
BENCH_EGRESS := $(OUT)/bench/bench_egress
BENCH_JSON := $(OUT)/bench/results.json
BENCH_EGRESS_JSON := $(OUT)/bench/egress.json
BENCH_CP_TSV := $(OUT)/bench/control-plane.tsv
BENCH_CP_JSON := $(OUT)/bench/control-plane.json
BENCH_VM ?= 1
BENCH_VM_N ?= 1000 10000
BENCH_VM_RUNS ?= 3
BENCH_DUMP_N ?= 100000
BENCH_DUMP_RUNS ?= 3
# 10,000 classic interfaces and 200,000 SAs need room.
BENCH_VM_MEM ?= 6G

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

bench: deps
	$(Q)$(MAKE) --no-print-directory all unit $(BENCH_REF_SKEL) $(BENCH_EGRESS)
	$(Q)$(BENCH_EGRESS) $(BENCH_EGRESS_JSON)
	@echo
	@echo "## Statistics dump: 100,000 tunnels in pinned maps (this kernel)"
	$(Q)XS_BENCH_CLI=$(abspath $(BIN)) CMOCKA_MESSAGE_OUTPUT=STDOUT \
		$(OUT)/tests/test_stats_read 2>&1 | grep -E ' ms$$' | sed 's/^/- /'
ifneq ($(BENCH_VM),0)
	@echo
	$(Q)XS_VM_MEM=$(BENCH_VM_MEM) XS_VM_TIMEOUT=$${XS_VM_TIMEOUT:-7200} \
		XS_BENCH_N="$(BENCH_VM_N)" XS_BENCH_RUNS=$(BENCH_VM_RUNS) \
		XS_BENCH_DUMP_N=$(BENCH_DUMP_N) XS_BENCH_DUMP_RUNS=$(BENCH_DUMP_RUNS) \
		scripts/vmtest.sh -- bench/bench-vm.sh $(BENCH_CP_TSV)
	$(Q)bench/bench-report.sh $(BENCH_CP_TSV) $(BENCH_CP_JSON)
	$(Q)jq -s '.[0] + {control_plane: .[1]}' $(BENCH_EGRESS_JSON) $(BENCH_CP_JSON) >$(BENCH_JSON)
else
	$(Q)cp $(BENCH_EGRESS_JSON) $(BENCH_JSON)
endif
	@echo
	@echo "All figures: $(BENCH_JSON)"

# SPDX-License-Identifier: GPL-2.0
#
# Benchmarks, included from the main Makefile (it defines OUT, CLANG, BPFTOOL,
# CC, BPF_CFLAGS, XS_CFLAGS, LDLIBS, ABI_H, msg and Q, and how to make
# $(OUT)/xfrm_steer.skel.h). "make bench" (root) runs:
#   1. the per-packet egress cost through BPF_PROG_TEST_RUN on this kernel
#      (bench/bench_egress.c; BENCH_REPEAT, BENCH_RUNS, BENCH_SAMPLES and
#      BENCH_CPU tune it), the same under route churn and a tenant's hit rate
#      while another scans (BENCH_CHURN_PACKETS), the kernel memory of an
#      attached device by size, the egress cost of route groups of 2 and 8
#      against one if_id (BENCH_PARTS picks among egress, churn, memory and
#      groups), and 100,000 tunnels' counters read from pinned maps
#   2. in the test VM, booted once (bench/bench-vm.sh): setup of N tunnels by
#      apply and by ip -batch, one interface per tunnel versus routes, and
#      the statistics dump of BENCH_DUMP_N tunnels; BENCH_VM_N, BENCH_VM_RUNS,
#      BENCH_DUMP_N, BENCH_DUMP_RUNS tune it, BENCH_VM=0 skips it
#   3. in the test VM, booted again (bench/bench-path.sh): CPU time per packet
#      of a UDP flood through IPsec for xfrm-steer, lightweight-tunnel routes,
#      one interface per tunnel (the first three also with their routes
#      through a next hop, "via") and policy-based, null and AES-GCM crypto,
#      spread over BENCH_PATH_N tunnels and to one; BENCH_PATH_PACKETS and
#      BENCH_PATH_RUNS tune it, BENCH_PATH_PERF=DIR also writes kernel
#      profiles (perf) of the largest N to DIR; BENCH_PATH_ICOUNT (default
#      3) runs the guest on instruction-count time, BENCH_PATH_ICOUNT= on
#      the host's clock
#   4. in the test VM, booted again (bench/bench-ike.sh): a charon start
#      with BENCH_IKE_N CHILD_SAs (default 1000) in one IKE_SA, the time
#      until all their routes are present, with the updown script and with
#      the daemon (ike if_ids); BENCH_IKE_RUNS runs each
# BENCH_PARTS picks the parts: egress, churn, memory and groups (1), control (the
# statistics dump of 1 and all of 2), path (3) and ike (4); default all of
# them, e.g. "make bench BENCH_PARTS=path" for the path table alone (about
# 15 minutes).
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
BENCH_PARTS ?= egress churn memory groups control path ike
BENCH_IKE_N ?= 1000
BENCH_IKE_RUNS ?= 1
BENCH_IKE_MODES ?= daemon updown
BENCH_IKE_TSV := $(OUT)/bench/ike.tsv
BENCH_HOST_PARTS := $(filter egress churn memory groups,$(BENCH_PARTS))
BENCH_PATH := $(OUT)/bench/path_send
BENCH_PATH_TSV := $(OUT)/bench/path.tsv
BENCH_PATH_JSON := $(OUT)/bench/path.json
BENCH_PATH_N ?= 1 1000 10000
BENCH_PATH_PACKETS ?= 4000
BENCH_PATH_RUNS ?= 3
BENCH_PATH_PERF ?=
# Guest time from the instruction count (scripts/vmtest.sh XS_VM_ICOUNT): on
# a shared machine the host's load moves wall-clock CPU times by 5-10x, an
# instruction count not at all. Empty: the host's clock (what TCG's
# software MMU costs counts then too).
BENCH_PATH_ICOUNT ?= 3
# 10,000 interfaces and 20,000 SAs.
BENCH_PATH_VM_MEM ?= 4G

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

$(BENCH_PATH): bench/path_send.c | $(OUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror $< -o $@

bench: deps
	$(Q)$(MAKE) --no-print-directory all unit $(BENCH_REF_SKEL) $(BENCH_EGRESS) $(BENCH_PATH)
	$(Q)echo '{}' >$(BENCH_JSON)
ifneq ($(BENCH_HOST_PARTS),)
	$(Q)BENCH_PARTS="$(BENCH_HOST_PARTS)" $(BENCH_EGRESS) $(BENCH_EGRESS_JSON)
	$(Q)cp $(BENCH_EGRESS_JSON) $(BENCH_JSON)
endif
ifneq ($(filter control,$(BENCH_PARTS)),)
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
	$(Q)jq -s '.[0] + {control_plane: .[1]}' $(BENCH_JSON) $(BENCH_CP_JSON) >$(BENCH_JSON).new
	$(Q)mv $(BENCH_JSON).new $(BENCH_JSON)
endif
endif
ifneq ($(filter path,$(BENCH_PARTS)),)
ifneq ($(BENCH_VM),0)
	@echo
	$(Q)XS_VM_MEM=$(BENCH_PATH_VM_MEM) XS_VM_TIMEOUT=$${XS_VM_TIMEOUT:-3600} \
		XS_BENCH_PATH_N="$(BENCH_PATH_N)" XS_BENCH_PATH_PACKETS=$(BENCH_PATH_PACKETS) \
		XS_BENCH_PATH_RUNS=$(BENCH_PATH_RUNS) XS_VM_ICOUNT=$(BENCH_PATH_ICOUNT) \
		$(if $(BENCH_PATH_PERF),XS_BENCH_PATH_PERF=$(abspath $(BENCH_PATH_PERF))) \
		scripts/vmtest.sh -- bench/bench-path.sh $(abspath $(BENCH_PATH_TSV))
	$(Q)bench/bench-path-report.sh $(BENCH_PATH_TSV) $(BENCH_PATH_JSON)
	$(Q)jq -s '.[0] + {path: .[1]}' $(BENCH_JSON) $(BENCH_PATH_JSON) >$(BENCH_JSON).new
	$(Q)mv $(BENCH_JSON).new $(BENCH_JSON)
endif
endif
ifneq ($(filter ike,$(BENCH_PARTS)),)
ifneq ($(BENCH_VM),0)
	@echo
	$(Q)XS_VM_TIMEOUT=$${XS_VM_TIMEOUT:-7200} XS_BENCH_IKE_N="$(BENCH_IKE_N)" \
		XS_BENCH_IKE_RUNS=$(BENCH_IKE_RUNS) XS_BENCH_IKE_MODES="$(BENCH_IKE_MODES)" \
		scripts/vmtest.sh -- bench/bench-ike.sh $(abspath $(BENCH_IKE_TSV))
	$(Q)bench/bench-ike-report.sh $(BENCH_IKE_TSV) $(OUT)/bench/ike.json
	$(Q)jq -s '.[0] + {ike: .[1]}' $(BENCH_JSON) $(OUT)/bench/ike.json >$(BENCH_JSON).new
	$(Q)mv $(BENCH_JSON).new $(BENCH_JSON)
endif
endif
	@echo
	@echo "All figures: $(BENCH_JSON)"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tables and JSON from bench/bench-vm.sh's measurements: each figure is the
# median of the runs, with the smallest and largest in brackets.
#
# Usage: bench/bench-report.sh RESULTS.tsv OUT.json
#   Markdown on stdout; OUT.json holds every median, min and max.
set -euo pipefail

TSV=${1:?usage: bench/bench-report.sh RESULTS.tsv OUT.json}
JSON=${2:?usage: bench/bench-report.sh RESULTS.tsv OUT.json}
[ -s "$TSV" ] || {
	echo "bench-report: $TSV is empty" >&2
	exit 1
}

awk -F '\t' -v json="$JSON" '
function add(t, n, s, m, r, v,   k) {
	k = t SUBSEP n SUBSEP s SUBSEP m
	if (!(k in cnt)) {
		order[++nk] = k
	}
	val[k, ++cnt[k]] = v + 0
	ns[t, n] = 1
}
# Median, min and max of the runs of one figure into med[k], lo[k], hi[k].
function agg(k,   i, j, c, tmp, x) {
	c = cnt[k]
	for (i = 1; i <= c; i++)
		tmp[i] = val[k, i]
	for (i = 2; i <= c; i++) {
		x = tmp[i]
		for (j = i - 1; j >= 1 && tmp[j] > x; j--)
			tmp[j + 1] = tmp[j]
		tmp[j + 1] = x
	}
	med[k] = c % 2 ? tmp[(c + 1) / 2] : (tmp[c / 2] + tmp[c / 2 + 1]) / 2
	lo[k] = tmp[1]
	hi[k] = tmp[c]
}
function key(t, n, s, m) {
	return t SUBSEP n SUBSEP s SUBSEP m
}
function has(t, n, s, m) {
	return key(t, n, s, m) in med
}
function M(t, n, s, m) {
	return med[key(t, n, s, m)]
}
# "2.45 (2.40-2.51)"
function fig(t, n, s, m, fmt,   k) {
	k = key(t, n, s, m)
	if (!(k in med))
		return "-"
	return sprintf(fmt " (" fmt "-" fmt ")", med[k], lo[k], hi[k])
}
function mb(t, n, s,   k) {
	k = key(t, n, s, "kmem")
	if (!(k in med))
		return "-"
	return sprintf("%.1f (%.1f-%.1f)", med[k] / 1024, lo[k] / 1024, hi[k] / 1024)
}
function ratio(a, b) {
	return b > 0 ? sprintf("%.1fx", a / b) : "-"
}
# A row of the scale table: classic subject c against external subject e.
function scale_row(n, part, c, e, fmt) {
	printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", num(n), part,
	       fig("scale", n, c, "wall", fmt), fig("scale", n, e, "wall", fmt),
	       ratio(M("scale", n, c, "wall"), M("scale", n, e, "wall")),
	       mb("scale", n, c), mb("scale", n, e),
	       ratio(M("scale", n, c, "kmem"), M("scale", n, e, "kmem"))
}
# 10000 -> 10,000
function num(n,   s) {
	s = sprintf("%d", n)
	while (s ~ /[0-9][0-9][0-9][0-9]/)
		sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
	return s
}
$1 == "meta" {
	meta[$3] = $6
	next
}
{
	add($1, $2, $3, $4, $5, $6)
	# Per-run sums of the parts that make a whole.
	run[$1, $2, $3, $4, $5] = $6 + 0
	runs[$1, $2, $4, $5] = 1
}
END {
	for (r in runs) {
		split(r, p, SUBSEP)
		t = p[1]; n = p[2]; m = p[3]; i = p[4]
		if (t != "scale")
			continue
		if (((t, n, "ip-sa", m, i) in run) && ((t, n, "attach", m, i) in run) &&
		    ((t, n, "external", m, i) in run)) {
			v = run[t, n, "ip-sa", m, i] + run[t, n, "attach", m, i]
			v += run[t, n, "external", m, i]
			add("setup", n, "ip-batch", m, i, v)
			add("scale", n, "external-whole", m, i, v)
			add("scale", n, "external-all", m, i,
			    run[t, n, "attach", m, i] + run[t, n, "external", m, i])
		}
		if (((t, n, "classic-sa", m, i) in run) && ((t, n, "classic", m, i) in run))
			add("scale", n, "classic-whole", m, i,
			    run[t, n, "classic-sa", m, i] + run[t, n, "classic", m, i])
	}
	for (i = 1; i <= nk; i++)
		agg(order[i])
	nn = 0
	for (k in ns) {
		split(k, p, SUBSEP)
		if (p[1] == "setup" && !(p[2] in seen_n)) {
			seen_n[p[2]] = 1
			nlist[++nn] = p[2] + 0
		}
	}
	for (i = 2; i <= nn; i++) {
		x = nlist[i]
		for (j = i - 1; j >= 1 && nlist[j] > x; j--)
			nlist[j + 1] = nlist[j]
		nlist[j + 1] = x
	}

	printf "## Control-plane setup of N tunnels (VM, kernel %s)\n\n", meta["kernel"]
	print "Seconds, median of the runs (min-max). A tunnel: SA pair, in/out/fwd policies for IPv4"
	print "and IPv6, one steering route; the external interface and its programs once. ip side:"
	print "ip -batch for SAs and policies, then xfrm-steer -batch for the interface and attach,"
	print "and for the routes.\n"
	print "| tunnels | xfrm-steer apply: wall | user | sys | ip -batch + routes: wall | user | sys | apply faster by | apply user share |"
	print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nn; i++) {
		n = nlist[i]
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %.0f%% |\n", num(n),
		       fig("setup", n, "apply", "wall", "%.2f"), fig("setup", n, "apply", "user", "%.2f"),
		       fig("setup", n, "apply", "sys", "%.2f"),
		       fig("setup", n, "ip-batch", "wall", "%.2f"), fig("setup", n, "ip-batch", "user", "%.2f"),
		       fig("setup", n, "ip-batch", "sys", "%.2f"),
		       ratio(M("setup", n, "ip-batch", "wall"), M("setup", n, "apply", "wall")),
		       100 * M("setup", n, "apply", "user") / M("setup", n, "apply", "wall")
	}

	has_classic = 0
	for (k in ns) {
		split(k, p, SUBSEP)
		if (p[1] == "scale" && p[3] == "classic")
			has_classic = 1
	}
	if (!has_classic)
		print "\n(No one-interface-per-tunnel runs: XS_BENCH_CLASSIC=0.)"
	if (has_classic) {
		print "\n## One xfrm interface per tunnel versus one external interface (VM)\n"
		print "Setup seconds and kernel memory in MB (Slab + Percpu + VmallocUsed), median (min-max)."
		print "per tunnel: N interfaces (up, with a kernel route each) versus N steering routes;"
		print "+ once: the same plus what the external way costs once (its interface, programs and"
		print "maps, sized for N); whole: all that plus the SAs and policies (the same ip -batch file).\n"
		print "| tunnels | part | classic: time | external: time | time ratio | classic: memory | external: memory | memory ratio |"
		print "|---:|---|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nn; i++) {
			n = nlist[i]
			scale_row(n, "per tunnel", "classic", "external", "%.3f")
			scale_row(n, "+ once", "classic", "external-all", "%.3f")
			scale_row(n, "whole", "classic-whole", "external-whole", "%.2f")
		}
	}

	dn = 0
	for (k in ns) {
		split(k, p, SUBSEP)
		if (p[1] == "dump")
			dn = p[2]
	}
	if (dn) {
		printf "\n## Statistics dump of %s tunnels (%s SAs, VM)\n\n", num(dn), num(2 * dn)
		print "| command | seconds | user | sys | output |"
		print "|---|---:|---:|---:|---:|"
		split("xs-stats xs-sa-show ip-state", subj, " ")
		label["xs-stats"] = "`xfrm-steer -j stats` (per-tunnel counters, BPF maps)"
		label["xs-sa-show"] = "`xfrm-steer -j sa show` (the SAs and their counters)"
		label["ip-state"] = "`ip -s xfrm state` (text: ip xfrm has no JSON)"
		for (i = 1; i <= 3; i++) {
			s = subj[i]
			printf "| %s | %s | %s | %s | %.1f MB |\n", label[s], fig("dump", dn, s, "wall", "%.3f"),
			       fig("dump", dn, s, "user", "%.3f"), fig("dump", dn, s, "sys", "%.3f"),
			       M("dump", dn, s, "bytes") / 1e6
		}
	}

	printf "{\n  \"kernel\": \"%s\",\n  \"cpus\": %d,\n  \"figures\": [\n", meta["kernel"], meta["cpus"] > json
	for (i = 1; i <= nk; i++) {
		k = order[i]
		split(k, p, SUBSEP)
		printf "    {\"table\": \"%s\", \"tunnels\": %d, \"subject\": \"%s\", \"metric\": \"%s\", " \
		       "\"runs\": %d, \"median\": %s, \"min\": %s, \"max\": %s}%s\n",
		       p[1], p[2], p[3], p[4], cnt[k], med[k], lo[k], hi[k], i < nk ? "," : "" > json
	}
	printf "  ]\n}\n" > json
}' "$TSV"

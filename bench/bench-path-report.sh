#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The path table and JSON from bench/bench-path.sh's measurements: each
# figure is the median of the runs, with the smallest and largest in
# brackets.
#
# Usage: bench/bench-path-report.sh RESULTS.tsv OUT.json
#   Markdown on stdout; OUT.json holds every median, min and max.
set -euo pipefail

TSV=${1:?usage: bench/bench-path-report.sh RESULTS.tsv OUT.json}
JSON=${2:?usage: bench/bench-path-report.sh RESULTS.tsv OUT.json}
[ -s "$TSV" ] || {
	echo "bench-path-report: $TSV is empty" >&2
	exit 1
}

awk -F '\t' -v json="$JSON" '
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
function num(n,   s) {
	s = sprintf("%d", n)
	while (s ~ /[0-9][0-9][0-9][0-9]/)
		sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
	return s
}
function fig(k) {
	if (!(k in med))
		return "-"
	return sprintf("%.0f (%.0f-%.0f)", med[k], lo[k], hi[k])
}
function K(n, v, c, t) {
	return n SUBSEP v "/" c "/" t SUBSEP "cpu"
}
function ratio(a, b) {
	return (a in med) && (b in med) && med[b] > 0 ? sprintf("%.2fx", med[a] / med[b]) : "-"
}
function nb(n, v, c, t,   k) {
	k = n SUBSEP v "/" c "/" t SUBSEP "neigh"
	return k in med ? sprintf("%d", med[k]) : "-"
}
$1 == "meta" {
	meta[$3 == "path" ? $4 : $3] = $6
	next
}
$1 == "path" {
	k = $2 SUBSEP $3 SUBSEP $4
	if (!(k in cnt))
		order[++nk] = k
	val[k, ++cnt[k]] = $6 + 0
	if (!($2 in seen)) {
		seen[$2] = 1
		nlist[++nn] = $2 + 0
	}
}
END {
	for (i = 1; i <= nk; i++)
		agg(order[i])
	for (i = 2; i <= nn; i++) {
		x = nlist[i]
		for (j = i - 1; j >= 1 && nlist[j] > x; j--)
			nlist[j + 1] = nlist[j]
		nlist[j + 1] = x
	}
	printf "## Whole path: CPU time per packet of a UDP flood through IPsec (VM, kernel %s)\n\n", meta["kernel"]
	printf "Sender CPU microseconds per packet (user + system, getrusage; the whole output path runs in\n"
	printf "its system calls), median of %d runs of %s packets (min-max), after one warm-up pass over\n", meta["runs"], num(meta["packets"])
	print "every tunnel. qemu TCG emulates the CPU: only ratios mean anything. The same SAs and"
	print "out policies (tunnel mode, if_id k) serve xfrm-steer, lightweight-tunnel routes and one"
	print "interface per tunnel; policy-based uses its own SAs (same peers, algorithms, keys) and a"
	print "policy per tunnel prefix. no IPsec: the same traffic pattern over N plain routes."
	print "via: the same routes through a next hop (via 169.254.0.1 dev ipsec0 onlink), one"
	print "neighbour entry for all destinations (per interface, with one per tunnel)."
	print "spread: packet i to tunnel i mod N + 1; one: every packet to tunnel 1.\n"
	print "| crypto | tunnels | traffic | xfrm-steer | xfrm-steer via | lwt routes | lwt via | interface per tunnel | interface per tunnel via | policy-based | no IPsec | xfrm-steer / lwt | via: xfrm-steer / lwt |"
	print "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	split("null gcm", cr, " ")
	split("spread one", tr, " ")
	for (c = 1; c <= 2; c++)
		for (i = 1; i <= nn; i++)
			for (t = 1; t <= 2; t++) {
				n = nlist[i]
				b = K(n, "lwt", cr[c], tr[t])
				if (!(b in med))
					continue
				a = K(n, "xfrm-steer", cr[c], tr[t])
				av = K(n, "xfrm-steer-via", cr[c], tr[t])
				bv = K(n, "lwt-via", cr[c], tr[t])
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cr[c], num(n), tr[t],
				       fig(a), fig(av), fig(b), fig(bv), fig(K(n, "classic", cr[c], tr[t])),
				       fig(K(n, "classic-via", cr[c], tr[t])),
				       fig(K(n, "policy", cr[c], tr[t])), fig(K(n, "baseline", cr[c], tr[t])),
				       ratio(a, b), ratio(av, bv)
			}

	print "\nIPv4 neighbour entries in the sending namespace after the runs (null crypto):\n"
	print "| tunnels | traffic | xfrm-steer | xfrm-steer via | lwt routes | lwt via | interface per tunnel | interface per tunnel via | policy-based | no IPsec |"
	print "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nn; i++)
		for (t = 1; t <= 2; t++) {
			n = nlist[i]
			if (nb(n, "lwt", "null", tr[t]) == "-")
				continue
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", num(n), tr[t],
			       nb(n, "xfrm-steer", "null", tr[t]), nb(n, "xfrm-steer-via", "null", tr[t]),
			       nb(n, "lwt", "null", tr[t]), nb(n, "lwt-via", "null", tr[t]),
			       nb(n, "classic", "null", tr[t]), nb(n, "classic-via", "null", tr[t]),
			       nb(n, "policy", "null", tr[t]),
			       nb(n, "baseline", "null", tr[t])
		}

	printf "{\n  \"kernel\": \"%s\",\n  \"packets\": %d,\n  \"runs\": %d,\n  \"unit\": \"us per packet\",\n  \"figures\": [\n",
	       meta["kernel"], meta["packets"], meta["runs"] > json
	for (i = 1; i <= nk; i++) {
		k = order[i]
		split(k, p, SUBSEP)
		split(p[2], s, "/")
		printf "    {\"tunnels\": %d, \"variant\": \"%s\", \"crypto\": \"%s\", \"traffic\": \"%s\", " \
		       "\"metric\": \"%s\", \"runs\": %d, \"median\": %s, \"min\": %s, \"max\": %s}%s\n",
		       p[1], s[1], s[2], s[3], p[3], cnt[k], med[k], lo[k], hi[k], i < nk ? "," : "" > json
	}
	printf "  ]\n}\n" > json
}' "$TSV"

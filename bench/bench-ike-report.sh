#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The IKE-at-scale table and JSON from bench/bench-ike.sh's measurements:
# seconds from charon's start until the kernel has all outbound policies
# and until xfrm-steer has all routes, the median of the runs.
#
# Usage: bench/bench-ike-report.sh RESULTS.tsv OUT.json
#   Markdown on stdout; OUT.json holds every median.
set -euo pipefail

TSV=${1:?usage: bench/bench-ike-report.sh RESULTS.tsv OUT.json}
JSON=${2:?usage: bench/bench-ike-report.sh RESULTS.tsv OUT.json}
[ -s "$TSV" ] || {
	echo "bench-ike-report: $TSV is empty" >&2
	exit 1
}

awk -F '\t' -v json="$JSON" '
function median(k,   i, j, c, tmp, x) {
	c = cnt[k]
	for (i = 1; i <= c; i++)
		tmp[i] = val[k, i]
	for (i = 2; i <= c; i++) {
		x = tmp[i]
		for (j = i - 1; j >= 1 && tmp[j] > x; j--)
			tmp[j + 1] = tmp[j]
		tmp[j + 1] = x
	}
	return c % 2 ? tmp[(c + 1) / 2] : (tmp[c / 2] + tmp[c / 2 + 1]) / 2
}
$1 == "ike" {
	k = $2 SUBSEP $3 SUBSEP $4
	val[k, ++cnt[k]] = $6
	if (!($2 in seen_n)) {
		seen_n[$2] = 1
		ns[++nn] = $2
	}
}
END {
	print "## IKE at scale: charon start with N CHILD_SAs, seconds until all are routed (test VM, TCG)"
	print ""
	print "| CHILD_SAs | routes by | kernel has the N policies | all N routes present |"
	print "|---:|---|---:|---:|"
	printf "{" >json
	sep = ""
	for (i = 1; i <= nn; i++) {
		n = ns[i]
		for (m = 1; m <= 2; m++) {
			mode = m == 1 ? "updown" : "daemon"
			kp = n SUBSEP mode SUBSEP "policies"
			kr = n SUBSEP mode SUBSEP "routes"
			if (!cnt[kr])
				continue
			p = median(kp)
			r = median(kr)
			printf "| %d | %s | %.1f s | %.1f s |\n", n, \
				mode == "updown" ? "updown script" : "daemon (ike if_ids)", p, r
			printf "%s\"%s_%s\": {\"policies_s\": %.1f, \"routes_s\": %.1f, \"runs\": %d}", \
				sep, mode, n, p, r, cnt[kr] >json
			sep = ", "
		}
	}
	print "}" >json
}' "$TSV"

# SPDX-License-Identifier: GPL-2.0
#
# Writes N tunnels in one of the forms the benchmarks compare, all describing
# the same tunnels: tunnel k (1..N) has if_id k, SPIs 0x20000000+k (in) and
# 0x10000000+k (out), a peer address in 10.64.0.0/10, one /24 of inner
# addresses (11.0.0.0/8 + k, then 12.0.0.0/8, ...) and its own AES-GCM keys.
#
#   awk -v n=N -v form=FORM -f bench/gen-tunnels.awk
#
# FORM:
#   json     an "xfrm-steer apply" file: external interface ipsec0 sized for
#            N routes and tunnels, the tunnels with their prefixes
#   ip-sa    "ip -batch": the same SA pairs and in/out/fwd policies (IPv4 and
#            IPv6 selectors) that apply makes
#   ip-states  "ip -batch": the SA pairs alone
#   routes   "xfrm-steer -batch": one steering route per tunnel on ipsec0
#   classic  "ip -batch": one xfrm interface per if_id, up, with a kernel
#            route of the tunnel's prefix into it (the way without BPF)
# The local (gateway) address is 10.0.0.1.

# Peer addresses scattered over 10.64.0.0/10 (k * 40503 mod 2^22 is one to
# one): with peers at base + k and reqid k, the kernel's SA hash (address
# sum xor reqid) would put every SA into a few dozen buckets, a pattern of
# this generator, not of real peers.
function peer(k,   i) {
	i = (k * 40503) % 4194304
	return sprintf("10.%d.%d.%d", 64 + int(i / 65536), int(i / 256) % 256, i % 256)
}

function prefix(k) {
	return sprintf("%d.%d.%d.0/24", 11 + int(k / 65536), int(k / 256) % 256, k % 256)
}

# 128-bit AES key + 32-bit salt, different per tunnel and direction.
function key(k, dir) {
	return sprintf("0x%08x%08x%08x%08x%08x", k, dir, k * 7 + 1, dir * 13 + 5, k)
}

BEGIN {
	if (n !~ /^[1-9][0-9]*$/) {
		print "gen-tunnels.awk: n must be a positive number" > "/dev/stderr"
		exit 2
	}
	local = "10.0.0.1"
	alg = "rfc4106(gcm(aes))"
	if (form == "json") {
		printf "{\n  \"links\": [ { \"name\": \"ipsec0\", \"tenant_key\": \"none\", "
		printf "\"max_routes\": %d, \"max_tunnels\": %d } ],\n", n + 16, n + 16
		printf "  \"tunnels\": [\n"
		for (k = 1; k <= n; k++) {
			printf "    { \"name\": \"t%d\", \"dev\": \"ipsec0\", \"if_id\": %d, ", k, k
			printf "\"local\": \"%s\", \"remote\": \"%s\", ", local, peer(k)
			printf "\"spi_in\": \"0x%08x\", \"spi_out\": \"0x%08x\", \"reqid\": %d, ",
				536870912 + k, 268435456 + k, k
			printf "\"aead\": { \"name\": \"%s\", \"icv_bits\": 128, ", alg
			printf "\"key\": \"%s\", \"key_out\": \"%s\" }, ", key(k, 1), key(k, 2)
			printf "\"prefixes\": [ \"%s\" ] }%s\n", prefix(k), k < n ? "," : ""
		}
		printf "  ]\n}\n"
	} else if (form == "ip-sa" || form == "ip-states") {
		for (k = 1; k <= n; k++) {
			printf "xfrm state add src %s dst %s proto esp spi 0x%08x reqid %d mode tunnel " \
				"replay-window 32 flag af-unspec if_id %d aead '%s' %s 128\n",
				peer(k), local, 536870912 + k, k, k, alg, key(k, 1)
			printf "xfrm state add src %s dst %s proto esp spi 0x%08x reqid %d mode tunnel " \
				"replay-window 32 flag af-unspec if_id %d aead '%s' %s 128\n",
				local, peer(k), 268435456 + k, k, k, alg, key(k, 2)
			for (f = 0; f < 2 && form == "ip-sa"; f++) {
				sel = f == 0 ? "src 0.0.0.0/0 dst 0.0.0.0/0" : "src ::/0 dst ::/0"
				printf "xfrm policy add %s dir in if_id %d tmpl src %s dst %s proto esp reqid %d mode tunnel\n",
					sel, k, peer(k), local, k
				printf "xfrm policy add %s dir out if_id %d tmpl src %s dst %s proto esp reqid %d mode tunnel\n",
					sel, k, local, peer(k), k
				printf "xfrm policy add %s dir fwd if_id %d tmpl src %s dst %s proto esp reqid %d mode tunnel\n",
					sel, k, peer(k), local, k
			}
		}
	} else if (form == "routes") {
		for (k = 1; k <= n; k++)
			printf "route add %s if_id %d dev ipsec0\n", prefix(k), k
	} else if (form == "classic") {
		for (k = 1; k <= n; k++) {
			printf "link add xfs%d type xfrm if_id %d\n", k, k
			printf "link set xfs%d up\n", k
			printf "route add %s dev xfs%d\n", prefix(k), k
		}
	} else {
		printf "gen-tunnels.awk: unknown form \"%s\"\n", form > "/dev/stderr"
		exit 2
	}
}

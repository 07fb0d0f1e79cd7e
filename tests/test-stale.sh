#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# State is bound to its device, not to a name or a reusable namespace inode:
# a namespace deleted without detach, or a device deleted and made again,
# leaves pins whose links are detached. They are never shown or used as
# live: the next command removes them with one warning line, a new
# namespace that gets the old inode starts empty, and "detach stale"
# removes what is left anywhere.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
trap topo_cleanup EXIT
root=/sys/fs/bpf/xfrm-steer
ino() { stat -L -c %i "/run/netns/$1"; }
err=$(mktemp)

step "a namespace deleted without detach"
topo_gateway
$XS -n "$GW" attach dev ipsec0
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" route add 192.168.2.0/24 if_id 102 dev ipsec0
# An underlay too, whose directory has no tc programs.
ip -n "$GW" link add ul9 type veth peer name ul9p
ip -n "$GW" link set ul9 up
ip -n "$GW" link set ul9p up
$XS -n "$GW" underlay attach dev ul9
old=$(ino "$GW")
[ -d "$root/$old/ipsec0" ] || fail "no pins in $root/$old/ipsec0"
[ -d "$root/$old/ul9" ] || fail "no underlay pins in $root/$old/ul9"
ip netns del "$GW"
# nsfs hands out freed inode numbers again: make namespaces until one
# gets the old one (usually the first).
# The old one is freed when the kernel has dismantled it, a moment later.
got=
for ((i = 0; i < 40; i++)); do
	ip netns add "$NSP-n$i"
	if [ "$(ino "$NSP-n$i")" = "$old" ]; then
		got=$NSP-n$i
		break
	fi
	ip netns del "$NSP-n$i"
	sleep 0.25
done
if [ -n "$got" ]; then
	step "a new namespace with the old inode ($old) inherits nothing"
	out=$($XS -n "$got" -j show 2>"$err")
	cat "$err"
	echo "$out"
	assert_eq "$(jq '[.links[]?] | length' <<<"$out")" 0 "links shown in the new namespace"
	grep -q '^Warning: removed the state of "ipsec0"' "$err" || fail "no warning about the stale state"
	grep -q '^Warning: removed the state of "ul9"' "$err" || fail "no warning about the stale underlay"
	assert_eq "$(wc -l <"$err")" 2 "warning lines"
	[ -e "$root/$old/ipsec0" ] && fail "the stale pins are still there"
	[ -e "$root/$old/ul9" ] && fail "the stale underlay pins are still there"
	$XS -n "$got" link add ipsec0
	$XS -n "$got" attach dev ipsec0
	assert_eq "$($XS -n "$got" -j route show | jq length)" 0 "routes of the new namespace's device"
	$XS -n "$got" detach dev ipsec0
else
	echo "note: no new namespace got inode $old in 40 tries; checking detach stale instead"
	out=$($XS detach stale)
	echo "$out"
	grep -q "$root/$old/ipsec0" <<<"$out" || fail "detach stale did not remove $root/$old/ipsec0"
	grep -q "$root/$old/ul9" <<<"$out" || fail "detach stale did not remove $root/$old/ul9"
fi

step "a device deleted and made again under the same name"
topo_gateway
$XS -n "$GW" attach dev ipsec0
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
ip -n "$GW" link del ipsec0
$XS -n "$GW" link add ipsec0
assert_fails "route show on the new device" $XS -n "$GW" route show dev ipsec0
out=$($XS -n "$GW" -j route show 2>"$err")
assert_eq "$out" "[]" "routes listed"
$XS -n "$GW" attach dev ipsec0
assert_eq "$($XS -n "$GW" -j route show | jq length)" 0 "routes after attaching the new device"
assert_eq "$($XS -n "$GW" -j stats | jq length)" 0 "stats rows of the new device"

step "detach stale removes what deleted namespaces left, and nothing live"
ip netns add "$NSP-x"
$XS -n "$NSP-x" link add ipsec0
$XS -n "$NSP-x" attach dev ipsec0
# and an underlay, whose directory has only the XDP link to tell
ip -n "$NSP-x" link add ulx type veth peer name ulxp
ip -n "$NSP-x" link set ulx up
$XS -n "$NSP-x" underlay attach dev ulx
xino=$(ino "$NSP-x")
ip netns del "$NSP-x"
out=$($XS -j detach stale)
echo "$out"
assert_eq "$(jq -r ".[] | select(.removed == \"$root/$xino/ipsec0\") | .dev" <<<"$out")" ipsec0 "removed"
assert_eq "$(jq -r ".[] | select(.removed == \"$root/$xino/ulx\") | .dev" <<<"$out")" ulx "removed underlay"
[ -e "$root/$xino" ] && fail "$root/$xino is still there"
$XS -n "$GW" route show dev ipsec0 >/dev/null || fail "detach stale removed a live device's state"
echo "ok: the live gateway is untouched"
assert_eq "$($XS -j detach stale)" "[]" "a second detach stale"

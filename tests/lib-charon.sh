# SPDX-License-Identifier: GPL-2.0
# Real charon daemons for the integration tests (test-strongswan, test-ike-daemon,
# test-updown-claims): each in its netns (nsenter, not "ip netns exec",
# which would remount /sys) and in a mount namespace of its own with a
# private /run, with a strongswan.conf (STRONGSWAN_CONF) naming its vici
# socket and log in $SW. Source it after lib.sh with XS_SW_PREFIX set; it
# skips the test where charon or swanctl is missing and installs the EXIT
# trap that stops the daemons and shows their logs on failure.

CHARON=${XS_CHARON:-/usr/lib/ipsec/charon}
UPDOWN=${UPDOWN:-$PWD/scripts/strongswan-updown.sh}

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
need_kernel_feature esp4 "no ESP in this kernel"
[ -x "$CHARON" ] || skip "strongSwan's charon is not installed at $CHARON (Debian: strongswan-charon)"
command -v swanctl >/dev/null || skip "swanctl is not installed (Debian: strongswan-swanctl)"
for c in nsenter unshare; do
	command -v "$c" >/dev/null || skip "$c (util-linux) is not installed"
done

SW=$(mktemp -d "/tmp/${XS_SW_PREFIX:-xs-charon}.XXXXXX")
CHARON_PIDS=()

stop_charons() {
	local pid
	for pid in "${CHARON_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	CHARON_PIDS=()
}

# The EXIT trap's cleanup: the daemons, their logs when the test failed,
# the topology. RC: the test's exit status (default: $?). It runs with
# errexit off: a cleanup step that fails must not end the cleanup.
finish() {
	local rc=${1:-$?} f
	set +e
	stop_charons
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for f in "$SW"/*.log "$SW"/*.out; do
			[ -s "$f" ] || continue
			echo "== last lines of $f"
			tail -n 40 "$f"
		done
	fi
	topo_cleanup
	rm -rf "$SW"
}
trap finish EXIT

# strongswan.conf of one instance: the plugins PSK and the kernel need
# (CHARON_LOAD replaces the list), no routes of its own (the gateway's come
# from xfrm-steer, the peer's from the test), a vici socket and a log file
# in $SW. CHARON_EXTRA: more lines for the charon section.
write_strongswan_conf() { # NAME
	cat >"$SW/$1.conf" <<EOF
charon {
	load = ${CHARON_LOAD:-random nonce aes sha1 sha2 hmac kdf gmp kernel-netlink socket-default vici updown}
	install_routes = no
	${CHARON_EXTRA:-}
	plugins {
		vici {
			socket = unix://$SW/$1.vici
		}
	}
	filelog {
		$1 {
			path = $SW/$1.log
			time_format = %T
			time_add_ms = yes
			flush_line = yes
			default = 1
			ike = 1
			chd = 2
		}
	}
}
swanctl {
	load = random nonce
}
EOF
}

start_charon() { # NAME NETNS [PATH]
	local name=$1 ns=$2 path=${3:-$PATH}
	write_strongswan_conf "$name"
	STRONGSWAN_CONF="$SW/$name.conf" PATH="$path" \
		nsenter --net="/run/netns/$ns" unshare --mount --propagation private \
		sh -c 'mount -t tmpfs xs-charon-run /run && exec "$1"' sh "$CHARON" \
		>"$SW/$name.out" 2>&1 </dev/null &
	CHARON_PIDS+=($!)
	for _ in $(seq 150); do
		[ -S "$SW/$name.vici" ] && return 0
		kill -0 "${CHARON_PIDS[-1]}" 2>/dev/null || fail "charon $name exited at start"
		sleep 0.2
	done
	fail "charon $name: no vici socket after 30 s"
}

swan() { # NAME SWANCTL-ARGS...
	local name=$1
	shift
	# The command option comes first, then --uri.
	STRONGSWAN_CONF="$SW/$name.conf" swanctl "$1" --uri "unix://$SW/$name.vici" "${@:2}"
}

# charon runs the updown script once per selector pair, each run a few
# xfrm-steer calls: seconds under TCG on a busy machine. Poll up to 90 s.
wait_eq() { # EXPECTED WHAT CMD...
	local want=$1 what=$2 got end=$((SECONDS + 90))
	shift 2
	while got=$("$@") && [ "$got" != "$want" ] && [ $SECONDS -lt $end ]; do
		sleep 0.3
	done
	assert_eq "$got" "$want" "$what"
}

routes() { # the gateway's routes, one "prefix if_id" per line, sorted
	xsj "$GW" route show dev ipsec0 | jq -r '.[] | "\(.prefix) \(.if_id)"' | sort
}

# swanctl.conf pieces of the IKE daemon tests: one connection "peer1"
# (IKEv2, PSK, aes128-sha256-modp2048) whose children come from sw_child.
sw_child() { # NAME LOCAL_TS REMOTE_TS [IF_ID]
	printf '\t\t\t%s {\n\t\t\t\tlocal_ts = %s\n\t\t\t\tremote_ts = %s\n' "$1" "$2" "$3"
	printf '\t\t\t\tesp_proposals = aes128gcm16\n'
	if [ -n "${4:-}" ]; then
		printf '\t\t\t\tif_id_in = %s\n\t\t\t\tif_id_out = %s\n' "$4" "$4"
	fi
	printf '\t\t\t}\n'
}
sw_conf() { # LOCAL REMOTE LID RID; the children (sw_child) on stdin
	cat <<EOF
connections {
	peer1 {
		version = 2
		local_addrs = $1
		remote_addrs = $2
		proposals = aes128-sha256-modp2048
		local {
			auth = psk
			id = $3
		}
		remote {
			auth = psk
			id = $4
		}
		children {
$(cat)
		}
	}
}
secrets {
	ike-1 {
		id-a = gw.example
		id-b = peer1.example
		secret = "xfrm-steer test key, not for real use"
	}
}
EOF
}

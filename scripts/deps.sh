#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install every build and test dependency of xfrm-steer from Debian's
# packages (bookworm plus bookworm-backports for libbpf 1.4 and bpftool 7.5).
# Idempotent: when everything is present it only checks and returns.
#
# Usage: scripts/deps.sh [--check]
#   --check  only report what is missing; exit 1 if anything is.
#
# libreswan: Debian's libreswan conflicts with the strongSwan packages
# (Conflicts: strongswan-libcharon, strongswan-starter), so it is not
# installed. Its package is downloaded and unpacked into $LIBRESWAN_ROOT
# (no maintainer scripts run: no service, no /etc/ipsec.*, no NSS database),
# and the libraries pluto needs are installed; tests/test-libreswan.sh runs
# pluto from there. A machine that has libreswan installed instead of
# strongSwan keeps it.
set -euo pipefail

BACKPORTS_LIST=/etc/apt/sources.list.d/xfrm-steer-backports.sources

# Packages from bookworm itself.
BASE_PKGS=(
	make gcc pkg-config
	clang-19 llvm-19 lld-19 libclang-rt-19-dev
	libmnl-dev libelf-dev zlib1g-dev libjson-c-dev libcmocka-dev
	libmicrohttpd-dev
	qemu-system-x86 qemu-utils kmod iproute2 iputils-ping procps
	jq curl
	# charon alone lacks the gcm and openssl plugins (AES-GCM, ECP groups):
	# the shipped examples/swanctl.conf proposals need the standard plugins
	strongswan-charon strongswan-swanctl libstrongswan-standard-plugins
	# what the unpacked libreswan (below) needs: its libraries, certutil
	libnss3-tools libldns3 libevent-pthreads-2.1-7 libunbound8 libcurl3-nss
	# the checkers the tests run: mandoc -Tlint (man page), python3-jsonschema
	# (apply files against the schema), promtool from prometheus (metrics)
	mandoc python3-jsonschema prometheus
)
# Packages that must come from bookworm-backports.
BP_PKGS=(libbpf-dev bpftool)
# libreswan, unpacked (see above).
LIBRESWAN_PKG=libreswan
LIBRESWAN_ROOT=${XS_LIBRESWAN_ROOT:-/var/cache/xfrm-steer/libreswan/root}

missing_base=()
missing_bp=()

have_pkg() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# libbpf-dev must be >= 1.4 (bpf_tc_* and TCX link API), bpftool >= 7.
libbpf_ok() {
	local v
	v=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge "1:1.4" || return 1
}

bpftool_ok() {
	have_pkg bpftool && [ -x /usr/sbin/bpftool ]
}

# The unpacked libreswan is there (or libreswan is installed).
libreswan_ok() {
	have_pkg libreswan || [ -x "$LIBRESWAN_ROOT/usr/libexec/ipsec/pluto" ]
}

for p in "${BASE_PKGS[@]}"; do
	have_pkg "$p" || missing_base+=("$p")
done
libbpf_ok || missing_bp+=(libbpf-dev)
bpftool_ok || missing_bp+=(bpftool)
missing_lsw=
libreswan_ok || missing_lsw="$LIBRESWAN_PKG (unpacked in $LIBRESWAN_ROOT)"

if [ ${#missing_base[@]} -eq 0 ] && [ ${#missing_bp[@]} -eq 0 ] && [ -z "$missing_lsw" ]; then
	exit 0
fi

if [ "${1:-}" = "--check" ]; then
	echo "missing: ${missing_base[*]} ${missing_bp[*]} $missing_lsw" >&2
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "Error: deps.sh: missing packages (${missing_base[*]} ${missing_bp[*]}) and not root; run it as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

if [ ${#missing_bp[@]} -gt 0 ] && [ ! -f "$BACKPORTS_LIST" ]; then
	# Reuse the mirror the machine already uses for bookworm.
	uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
	[ -n "$uri" ] || uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	[ -n "$uri" ] || uri=http://deb.debian.org/debian
	cat >"$BACKPORTS_LIST" <<EOF
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi

echo "deps.sh: installing ${missing_base[*]} ${missing_bp[*]} $missing_lsw" >&2
apt-get update -qq
if [ ${#missing_base[@]} -gt 0 ]; then
	apt-get install -y -qq --no-install-recommends "${missing_base[@]}" >/dev/null
fi
if [ ${#missing_bp[@]} -gt 0 ]; then
	apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		"${missing_bp[@]}" >/dev/null
fi
if [ -n "$missing_lsw" ]; then
	# Download only (as the _apt user can read it), check it is the package
	# asked for, unpack into a fresh directory, then swap it in.
	dl=$(mktemp -d /tmp/xs-deps-libreswan.XXXXXX)
	chmod 0755 "$dl"
	chown _apt "$dl" 2>/dev/null || true
	(cd "$dl" && apt-get download -qq "$LIBRESWAN_PKG") >/dev/null
	deb=$(ls "$dl"/"$LIBRESWAN_PKG"_*.deb)
	[ "$(dpkg-deb -f "$deb" Package)" = "$LIBRESWAN_PKG" ] || {
		echo "Error: deps.sh: $deb is not the $LIBRESWAN_PKG package" >&2
		exit 1
	}
	mkdir -p "$(dirname "$LIBRESWAN_ROOT")"
	rm -rf "$LIBRESWAN_ROOT.new"
	dpkg-deb -x "$deb" "$LIBRESWAN_ROOT.new"
	dpkg-deb -f "$deb" Version >"$LIBRESWAN_ROOT.new/VERSION"
	rm -rf "$LIBRESWAN_ROOT"
	mv "$LIBRESWAN_ROOT.new" "$LIBRESWAN_ROOT"
	rm -rf "$dl"
fi
echo "deps.sh: done" >&2

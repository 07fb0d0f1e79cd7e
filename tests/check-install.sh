#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install / make uninstall into a staging directory: install writes
# exactly the expected files, with the installed paths filled in, units that
# systemd accepts (when systemd-analyze is there), a man page that renders;
# uninstall removes every one of them and the directories that are ours.
# Uses the binary in build/ as it is (make install-files: no rebuild).
# Usage: tests/check-install.sh   (runs on the host too; needs no root)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
[ -x "$OUT/xfrm-steer" ] || { echo "check-install: $OUT/xfrm-steer is missing (make first)" >&2; exit 1; }

STAGE=$(mktemp -d /tmp/xs-install.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

fail() {
	echo "check-install: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }
mk() { make --no-print-directory -s OUT="$OUT" "$@"; }

files_under() { # DIR: the files below DIR, relative, sorted
	(cd "$1" && find . -type f -o -type l | sed 's|^\./||' | LC_ALL=C sort)
}

# install DESTDIR PREFIX: check the staged tree against the expected list
check_tree() { # DESTDIR PREFIX UNITDIR
	local d=$1 p=${2#/} u=${3#/} want got f
	want=$(
		{
			echo "$p/sbin/xfrm-steer"
			echo "$p/share/man/man8/xfrm-steer.8"
			echo "$p/share/bash-completion/completions/xfrm-steer"
			echo "$u/xfrm-steer@.service"
			echo "$u/xfrm-steer-exporter.service"
			echo "$u/xfrm-steer-daemon.service"
			echo "$u/xfrm-steer-libreswan-relay.service"
			echo "$p/lib/xfrm-steer/strongswan-updown.sh"
			echo "$p/lib/xfrm-steer/strongswan-unknown-spi.sh"
			echo "$p/lib/xfrm-steer/libreswan-updown.sh"
			echo "$p/share/doc/xfrm-steer/xfrm-steer.schema.json"
			for f in examples/*; do
				echo "$p/share/doc/xfrm-steer/examples/${f#examples/}"
			done
		} | LC_ALL=C sort
	)
	got=$(files_under "$d")
	if [ "$got" != "$want" ]; then
		echo "$want" >"$STAGE/want"
		echo "$got" >"$STAGE/got"
		diff "$STAGE/want" "$STAGE/got" >&2 || true
		fail "install into $d: files differ from the expected ones (< expected, > installed)"
	fi
	ok "install PREFIX=/$p: $(wc -l <<<"$got") files where they belong"
}

step() { echo "-- $*"; }

step "make install-files DESTDIR=... (PREFIX=/usr/local)"
D=$STAGE/local
mk install-files DESTDIR="$D"
check_tree "$D" /usr/local /usr/local/lib/systemd/system
P=$D/usr/local
for f in "$P/sbin/xfrm-steer" "$P/lib/xfrm-steer/strongswan-updown.sh" \
	"$P/lib/xfrm-steer/libreswan-updown.sh"; do
	[ "$(stat -c %a "$f")" = 755 ] || fail "$f: mode $(stat -c %a "$f"), expected 755"
done
for f in "$P/share/man/man8/xfrm-steer.8" "$P/share/bash-completion/completions/xfrm-steer" \
	"$P"/lib/systemd/system/*.service "$P"/share/doc/xfrm-steer/examples/*; do
	[ "$(stat -c %a "$f")" = 644 ] || fail "$f: mode $(stat -c %a "$f"), expected 644"
done
ok "modes 755 for programs, 644 for the rest"
"$P/sbin/xfrm-steer" version
if grep -rl '@SBINDIR@\|@VERSION@\|@XS_LIBDIR@' "$D"; then
	fail "placeholders left in the files above"
fi
grep -qx 'XS_DEFAULT_BIN=/usr/local/sbin/xfrm-steer' "$P/lib/xfrm-steer/strongswan-updown.sh" ||
	fail "the updown script does not name the installed binary"
grep -qx 'ExecStart=/usr/local/lib/xfrm-steer/libreswan-updown.sh relay' \
	"$P/lib/systemd/system/xfrm-steer-libreswan-relay.service" ||
	fail "xfrm-steer-libreswan-relay.service: ExecStart"
grep -qx 'ExecStart=/usr/local/sbin/xfrm-steer apply /etc/xfrm-steer/%i.json' \
	"$P/lib/systemd/system/xfrm-steer@.service" || fail "xfrm-steer@.service: ExecStart"
grep -qx 'ExecReload=/usr/local/sbin/xfrm-steer apply /etc/xfrm-steer/%i.json' \
	"$P/lib/systemd/system/xfrm-steer@.service" || fail "xfrm-steer@.service: ExecReload"
# Stopping (a restart, an upgrade) must not tear the gateway down.
! grep -q '^ExecStop' "$P/lib/systemd/system/xfrm-steer@.service" ||
	fail "xfrm-steer@.service: an ExecStop would tear the gateway down on restart"
grep -qx 'ExecStart=/usr/local/sbin/xfrm-steer exporter --listen 127.0.0.1:9469' \
	"$P/lib/systemd/system/xfrm-steer-exporter.service" || fail "exporter unit: ExecStart"
version=$(sed -n 's/^VERSION := //p' Makefile)
grep -q "^\.TH XFRM-STEER 8 [0-9-]* \"xfrm-steer $version\"" "$P/share/man/man8/xfrm-steer.8" ||
	fail "the man page does not carry version $version"
ok "installed paths and version filled in"
sh -n "$P/lib/xfrm-steer/strongswan-updown.sh"
bash -n "$P/share/bash-completion/completions/xfrm-steer"
"$P/lib/xfrm-steer/strongswan-updown.sh" --help >/dev/null
ok "updown script and completion parse"
if command -v groff >/dev/null; then
	warn=$(groff -man -ww -z "$P/share/man/man8/xfrm-steer.8" 2>&1)
	[ -z "$warn" ] || fail "groff: $warn"
	ok "man page renders without warnings"
fi
if command -v man >/dev/null; then
	[ "$(MANPATH="$P/share/man" man -w xfrm-steer)" = "$P/share/man/man8/xfrm-steer.8" ] ||
		fail "man -w does not find the installed page"
	ok "man finds the page under the staged MANPATH"
fi

# systemd-analyze checks that ExecStart is executable: point the units at
# the staged binary first.
if command -v systemd-analyze >/dev/null; then
	U=$STAGE/units
	mkdir "$U"
	for f in "$P"/lib/systemd/system/*.service; do
		sed "s|/usr/local/sbin/|$P/sbin/|g" "$f" >"$U/${f##*/}"
	done
	if out=$(cd "$U" && systemd-analyze verify --man=no ./xfrm-steer@.service \
		./xfrm-steer-exporter.service ./xfrm-steer-daemon.service 2>&1); then
		ok "systemd-analyze verify: units accepted"
	elif grep -qi 'failed to.*bus\|not booted\|System has not been booted' <<<"$out"; then
		echo "skipped: systemd-analyze verify cannot run here: $out"
	else
		echo "$out" >&2
		fail "systemd-analyze verify rejects the units"
	fi
else
	echo "skipped: systemd-analyze is not installed"
fi

step "make uninstall DESTDIR=..."
mk uninstall DESTDIR="$D"
left=$(files_under "$D")
[ -z "$left" ] || fail "uninstall left files: $left"
for dir in "$P/lib/xfrm-steer" "$P/share/doc/xfrm-steer"; do
	[ ! -e "$dir" ] || fail "uninstall left $dir"
done
ok "uninstall removed every installed file and our own directories"
mk uninstall DESTDIR="$D"
ok "uninstall again succeeds"

step "PREFIX=/usr"
D=$STAGE/usr
# systemd's own word on its unit directory, where it has a pkg-config file
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null) ||
	unitdir=/usr/lib/systemd/system
mk install-files DESTDIR="$D" PREFIX=/usr
check_tree "$D" /usr "$unitdir"
grep -qx 'XS_DEFAULT_BIN=/usr/sbin/xfrm-steer' "$D/usr/lib/xfrm-steer/strongswan-updown.sh" ||
	fail "PREFIX=/usr: the updown script does not name /usr/sbin/xfrm-steer"
mk uninstall DESTDIR="$D" PREFIX=/usr
[ -z "$(files_under "$D")" ] || fail "PREFIX=/usr: uninstall left files"
ok "PREFIX=/usr: units in $unitdir, uninstall clean"

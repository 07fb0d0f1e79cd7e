#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run one command as root inside a Debian kernel (6.12 by default, or
# Debian's newest) booted under qemu, on
# the host's own root file system (shared read-only over virtio-fs), in the
# host's working directory.  See usage() or "scripts/vmtest.sh --help".
#
# shellcheck disable=SC2317 # functions run via trap and "with_lock FUNC"
set -euo pipefail

SELF=${0##*/}
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VIRTIOFSD=${XS_VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
QEMU=${XS_QEMU:-qemu-system-x86_64}
FS_TAG=xsroot
KSERIES=6.12
KFLAVOUR=cloud-amd64
# Where XS_KERNEL=newest looks (Debian's newest kernels).
NEWEST_SUITE=trixie-backports

usage() {
	cat <<EOF
Usage: scripts/$SELF [--] COMMAND [ARG...]
       scripts/$SELF --help

Boot a Debian Linux kernel under qemu and run COMMAND in it as root: by
default bookworm-backports' Linux $KSERIES
(linux-image-$KSERIES.*-$KFLAVOUR-unsigned), with XS_KERNEL=newest Debian's
newest kernel ($NEWEST_SUITE).  The guest's root file system is the host's
own "/", shared over virtio-fs and mounted read-only, except for:
  - the current working directory (same absolute path as on the host),
    which is writable, so a checkout can be built and written to;
  - tmpfs on /tmp, /run, /dev/shm and /lib/modules (the booted kernel's
    modules are bound at /lib/modules/\$(uname -r), so modprobe and the
    kernel's own module requests work).
Also mounted: proc, sysfs, devtmpfs, devpts, bpffs (/sys/fs/bpf), cgroup2,
debugfs, tracefs.  lo is up, the hostname is xs-vm, there is no other
network device.  COMMAND's stdin is /dev/null.

COMMAND's stdout and stderr are streamed (together) to this script's
stdout while it runs, and this script exits with COMMAND's exit status.

The guest environment is empty except for
  PATH=$GUEST_PATH, HOME=/root
and these variables when set on the host: T, V, CI, TERM and every
variable whose name starts with XS_.

Exit status:
  COMMAND's own status  the command ran to its end
  124                   XS_VM_TIMEOUT passed (the VM is killed)
  125                   the VM failed to boot XS_VM_BOOT_ATTEMPTS times, died
                        (e.g. kernel panic) after the command started, or
                        returned no exit status; also setup errors here
  130/143               interrupted by SIGINT/SIGTERM (the VM is killed)
On 124/125 a "vmtest: ..." message and the last lines of the guest console
are printed to stderr, and the full console log is kept in
\$XS_VM_CACHE/logs/ (its path is printed; the newest 20 logs are kept).  On
success the console log is deleted along with the per-run directory
\$XS_VM_CACHE/run/run.PID.XXXXXX (kept when XS_VM_KEEP=1).

Boots that fail before COMMAND started (a kernel panic or Oops in early
boot, a hang, as seen about once in 40 boots under TCG) are retried, up to
XS_VM_BOOT_ATTEMPTS boots in all; each retry prints a "vmtest: boot N of M
failed (...)" line with the reason and its kept console log.  "Started"
means the guest's init created the run directory's "started" file (or
printed "running command", or COMMAND wrote output) just before running
COMMAND; once it has, nothing is retried: a failure is COMMAND's.

Kernel: the newest cached $KSERIES kernel is used; if none is cached, the
newest linux-image-$KSERIES.*-$KFLAVOUR-unsigned that apt knows of is
fetched with "apt-get download" (after "apt-get update" only when needed),
unpacked with dpkg -x and indexed with depmod into
\$XS_VM_CACHE/kernels/VERSION.  Concurrent first runs are serialised with
flock.  XS_KERNEL=newest instead takes the newest
linux-binary-unsigned-VER-$KFLAVOUR of $NEWEST_SUITE (plus linux-modules-VER
and linux-base-VER; the image is usr/lib/modules/VER/vmlinuz.unsigned)
through a private apt configuration in \$XS_VM_CACHE/apt (its own sources
list, naming the host's Debian mirror, package lists and cache; the host's
/etc/apt is never changed), refreshed when older than 6 hours, and caches it
the same way.  Without the network it uses the newest cached 7.x or later
kernel with a warning, and with none cached fails with one line naming the
cause and the fix.  Needs root, qemu-system-x86, kmod and $VIRTIOFSD.
If the host has no /lib/modules directory, an empty one is created (it is
the mount point of the guest's module tmpfs).

Environment:
  XS_KERNEL_VERSION  use exactly this kernel, e.g. 6.12.117+deb12,
                     6.12.117+deb12-cloud-amd64 or 7.3.4+deb13 (fetched
                     when not cached; 7.x and later from $NEWEST_SUITE)
  XS_KERNEL          default (Linux $KSERIES) or newest ($NEWEST_SUITE)
  XS_DEBIAN_MIRROR   mirror for XS_KERNEL=newest (default: the one the
                     host's apt uses for Debian)
  XS_VM_CACHE        cache directory (default /var/cache/xfrm-steer/vm)
  XS_VM_TIMEOUT      seconds, boot included, before the VM is killed
                     (default 1200)
  XS_VM_BOOT_ATTEMPTS  boots tried before giving up (default 3)
  XS_VM_BOOT_TIMEOUT   seconds a boot may take to start COMMAND before the
                     VM is killed and booted again (default 180)
  XS_VM_MEM          guest memory (default 2048M)
  XS_VM_CPUS         guest CPUs (default 2)
  XS_VM_ACCEL        kvm, tcg or auto (default auto).  auto picks KVM only
                     when /dev/kvm is read-writable, /proc/cpuinfo shows
                     the vmx or svm flag, the kvm_intel or kvm_amd module is
                     loaded and kvm_pvm is not (a PVM host's /dev/kvm only
                     runs PVM-aware guests: a stock kernel hangs there).
                     TCG runs with -cpu max,-cx16 (qemu 7.2's emulated
                     cmpxchg16b corrupts guest memory), KVM with -cpu host.
  XS_VM_TCG_THREAD   single or multi (default single): TCG runs all vCPUs
                     on one host thread.  The early-boot Oops (int3 while
                     the kernel live-patches a static key, vCPUs racing
                     over the patched text) needs vCPUs that run at once;
                     and measured here on a shared 2-core host, test-stats
                     took 38-81 s single against 53-89 s multi (4 pairs,
                     alternating), boots 13.7-14.5 s either way.
  XS_VM_ICOUNT       TCG only: a shift N; guest time follows the guest's
                     instruction count (-icount shift=N,sleep=off: 2^N ns an
                     instruction), so CPU times are instruction counts and
                     do not move with the host's load; one TCG thread
  XS_VM_KEEP         1: keep the run directory (console.log, output, ...)
  XS_VM_CMDLINE      extra kernel command line arguments
  XS_QEMU            qemu binary (default qemu-system-x86_64)
  XS_VIRTIOFSD       virtiofsd binary (default /usr/lib/qemu/virtiofsd)

Notes: HOME (/root) is read-only in the guest; use /tmp.  The run
directory is visible in the guest at /run/xs-vm.  Inside the guest the
kernel console (ttyS0) goes to the run directory's console.log; the
command's output is the run directory's "output" file, which this script
follows with tail(1).
EOF
}

die() {
	echo "vmtest: $*" >&2
	exit 125
}

# ---------------------------------------------------------------- arguments

case ${1:-} in
-h | --help)
	usage
	exit 0
	;;
--)
	shift
	;;
-*)
	echo "vmtest: unknown option '$1' (see --help)" >&2
	exit 2
	;;
esac
if [ $# -eq 0 ]; then
	echo "Usage: scripts/$SELF [--] COMMAND [ARG...]  (see --help)" >&2
	exit 2
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (virtiofsd shares / with the guest)"

CACHE=${XS_VM_CACHE:-/var/cache/xfrm-steer/vm}
TIMEOUT=${XS_VM_TIMEOUT:-1200}
MEM=${XS_VM_MEM:-2048M}
CPUS=${XS_VM_CPUS:-2}
ACCEL=${XS_VM_ACCEL:-auto}
TCG_THREAD=${XS_VM_TCG_THREAD:-single}
BOOT_ATTEMPTS=${XS_VM_BOOT_ATTEMPTS:-3}
BOOT_TIMEOUT=${XS_VM_BOOT_TIMEOUT:-180}

if ! [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]]; then
	die "XS_VM_TIMEOUT must be a positive number of seconds, not '$TIMEOUT'"
fi
case $TCG_THREAD in
multi | single) ;;
*) die "XS_VM_TCG_THREAD must be multi or single, not '$TCG_THREAD'" ;;
esac
if ! [[ $BOOT_ATTEMPTS =~ ^[1-9][0-9]*$ ]]; then
	die "XS_VM_BOOT_ATTEMPTS must be a positive number, not '$BOOT_ATTEMPTS'"
fi
if ! [[ $BOOT_TIMEOUT =~ ^[1-9][0-9]*$ ]]; then
	die "XS_VM_BOOT_TIMEOUT must be a positive number of seconds, not '$BOOT_TIMEOUT'"
fi
if ! [[ $CPUS =~ ^[1-9][0-9]*$ ]]; then
	die "XS_VM_CPUS must be a positive number, not '$CPUS'"
fi
[[ $MEM =~ ^[1-9][0-9]*[MG]?$ ]] || die "XS_VM_MEM must look like 2048M or 2G, not '$MEM'"
# A bare number means MiB for -m but bytes for the memory backend.
[[ $MEM =~ [MG]$ ]] || MEM=${MEM}M
[ -x "$VIRTIOFSD" ] || die "$VIRTIOFSD not found (Debian package qemu-system-x86)"
command -v "$QEMU" >/dev/null || die "$QEMU not found (Debian package qemu-system-x86)"
command -v depmod >/dev/null || die "depmod not found (Debian package kmod)"

mkdir -p "$CACHE"
CACHE=$(cd -- "$CACHE" && pwd -P)
HOST_CWD=$(pwd -P)

# Paths that end up on the kernel command line must survive its splitting.
cmdline_safe() {
	case $1 in
	*[[:space:]\"\'\\]*) return 1 ;;
	esac
	return 0
}
cmdline_safe "$CACHE" || die "XS_VM_CACHE path '$CACHE' must not contain spaces or quotes"
cmdline_safe "$SCRIPT_DIR" || die "the checkout path '$SCRIPT_DIR' must not contain spaces or quotes"
case $HOST_CWD in
*$'\n'*) die "the working directory must not contain a newline" ;;
esac

# ------------------------------------------------------------ kernel cache

KDIR=$CACHE/kernels
mkdir -p "$KDIR"

# Print the version of a complete cached kernel tree, or fail.
kernel_ok() {
	[ -f "$KDIR/$1/boot/vmlinuz-$1" ] && [ -f "$KDIR/$1/lib/modules/$1/modules.dep" ]
}

# Newest version (dpkg order) among the arguments.
newest() {
	local best='' v
	for v in "$@"; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	[ -n "$best" ] && echo "$best"
}

# Newest complete cached kernel whose version matches the glob $1.
newest_cached() {
	local d v vs=()
	for d in "$KDIR"/$1-"$KFLAVOUR"; do
		[ -d "$d" ] || continue
		v=${d##*/}
		kernel_ok "$v" && vs+=("$v")
	done
	[ ${#vs[@]} -gt 0 ] || return 1
	newest "${vs[@]}"
}

# Since 7.x Debian's kernel packages are linux-binary-unsigned-VER (image
# at usr/lib/modules/VER/vmlinuz.unsigned) and linux-modules-VER; they
# come from $NEWEST_SUITE through a private apt configuration.
new_layout() {
	[[ ${1%%.*} =~ ^[0-9]+$ ]] && [ "${1%%.*}" -ge 7 ]
}

# ---- the host's apt (bookworm-backports, Linux $KSERIES)

# Kernel versions (6.12.N+debM-cloud-amd64) that apt can download.
apt_versions() {
	apt-cache search --names-only "^linux-image-$KSERIES\\.[0-9]+\\+deb[0-9]+-$KFLAVOUR-unsigned\$" 2>/dev/null |
		awk '{print $1}' | sed -e 's/^linux-image-//' -e 's/-unsigned$//'
}

newest_available() {
	local vs
	vs=$(apt_versions)
	if [ -z "$vs" ]; then
		echo "vmtest: no $KSERIES kernel known to apt; running apt-get update" >&2
		apt-get update >&2 || die "apt-get update failed"
		vs=$(apt_versions)
	fi
	[ -n "$vs" ] || die "apt knows no linux-image-$KSERIES.*-$KFLAVOUR-unsigned (is bookworm-backports enabled?)"
	# shellcheck disable=SC2086 # one version a line, no spaces
	newest $vs
}

# ---- the private apt ($NEWEST_SUITE, Debian's newest kernel)

# Nothing of this touches the host's /etc/apt: its own sources list, lists
# and package cache live in $APTDIR.
APTDIR=$CACHE/apt
PAPT=(
	-o "Dir::Etc::SourceList=$APTDIR/sources.list"
	-o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
	-o "Dir::State=$APTDIR/state"
	-o "Dir::State::Lists=$APTDIR/state/lists"
	-o "Dir::Cache=$APTDIR/cache"
)

# The mirror the host's apt uses for Debian (XS_DEBIAN_MIRROR overrides).
debian_mirror() {
	local u=${XS_DEBIAN_MIRROR:-}
	if [ -z "$u" ]; then
		# shellcheck disable=SC2016 # apt's own $(...) format fields
		u=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
			awk '$2 ~ /^(bookworm|trixie|sid|unstable)(-backports|-updates)?$/ {print $1; exit}')
	fi
	[ -n "$u" ] && echo "${u%/}"
}

# Fail with one line saying why Debian's newest kernel cannot be had.
die_newest() {
	die "cannot fetch Debian's newest kernel ($NEWEST_SUITE): $1; fix: $2"
}

# Refresh the private package lists (quietly; errors on one line).
papt_update() {
	local uri
	uri=$(debian_mirror) ||
		die_newest "no Debian mirror in the host's apt sources" "set XS_DEBIAN_MIRROR to a Debian mirror URL"
	mkdir -p "$APTDIR/sources.list.d" "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial"
	chown _apt "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial" 2>/dev/null || true
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $NEWEST_SUITE main" \
		>"$APTDIR/sources.list"
	echo "vmtest: updating the private package lists of $NEWEST_SUITE ($APTDIR)" >&2
	apt-get "${PAPT[@]}" --error-on=any update >"$APTDIR/update.log" 2>&1 || return 1
	touch "$APTDIR/updated"
}

# Newest cloud kernel versions in the private lists (7.3.4+deb13-cloud-amd64).
papt_versions() {
	apt-cache "${PAPT[@]}" search --names-only "^linux-binary-unsigned-[0-9]+\\.[0-9.]+\\+deb[0-9]+-$KFLAVOUR\$" 2>/dev/null |
		awk '{print $1}' | sed -e 's/^linux-binary-unsigned-//'
}

# Resolve "newest" (lock held): refresh the lists when older than 6 hours,
# take the newest version there, populate it. Without the network a cached
# newest kernel is used with a warning; without one either, fail.
locked_pick_newest() {
	local vs v err
	if [ -z "$(find "$APTDIR/updated" -mmin -360 2>/dev/null)" ] && ! papt_update; then
		err=$(grep -m1 '^E:' "$APTDIR/update.log" 2>/dev/null | tr -s '[:space:]' ' ' | sed 's/ *$//')
		if v=$(newest_cached '[7-9].*'); then
			echo "vmtest: warning: cannot update the $NEWEST_SUITE lists (${err:-see $APTDIR/update.log}); using the cached $v" >&2
			KVER=$v
			return
		fi
		die_newest "apt-get update failed (${err:-see $APTDIR/update.log}), no network to the Debian mirror?" \
			"give this machine access to the Debian mirror (or XS_DEBIAN_MIRROR), or cache a kernel and set XS_KERNEL_VERSION"
	fi
	vs=$(papt_versions)
	[ -n "$vs" ] || die_newest "no linux-binary-unsigned-*-$KFLAVOUR in $NEWEST_SUITE" \
		"check $APTDIR/sources.list, or set XS_KERNEL_VERSION"
	# shellcheck disable=SC2086 # one version a line, no spaces
	KVER=$(newest $vs)
	kernel_ok "$KVER" || populate "$KVER"
}

# ---- download, unpack, index

# Download kernel $1's packages into the current directory.
download() {
	local kver=$1 pkgs
	pkgs=("linux-binary-unsigned-$kver" "linux-modules-$kver" "linux-base-$kver")
	if new_layout "$kver"; then
		[ -f "$APTDIR/sources.list" ] || papt_update ||
			die_newest "apt-get update failed (see $APTDIR/update.log)" "give this machine access to the Debian mirror"
		apt-get "${PAPT[@]}" download "${pkgs[@]}" && return
		echo "vmtest: ${pkgs[*]} not all found; updating the $NEWEST_SUITE lists" >&2
		papt_update || die_newest "apt-get update failed (see $APTDIR/update.log)" "give this machine access to the Debian mirror"
		apt-get "${PAPT[@]}" download "${pkgs[@]}"
	else
		apt-get download "linux-image-$kver-unsigned" && return
		echo "vmtest: linux-image-$kver-unsigned not found; running apt-get update" >&2
		apt-get update || die "apt-get update failed"
		apt-get download "linux-image-$kver-unsigned"
	fi
}

# Download and unpack kernel $1 into $KDIR/$1 (called with the lock held).
populate() {
	local kver=$1 tmp root mods img deb
	# Leftovers of an interrupted population (we hold the lock).
	rm -rf -- "$KDIR"/.tmp.*
	tmp=$(mktemp -d "$KDIR/.tmp.XXXXXX")
	# apt downloads as user _apt when it may write there.
	chown _apt "$tmp" 2>/dev/null || true
	echo "vmtest: fetching kernel $kver into $KDIR" >&2
	(cd "$tmp" && download "$kver") >&2 || { rm -rf "$tmp"; die "cannot download kernel $kver"; }
	root=$tmp/root
	mkdir "$root"
	for deb in "$tmp"/*.deb; do
		dpkg -x "$deb" "$root" || { rm -rf "$tmp"; die "dpkg -x ${deb##*/} failed"; }
	done
	# usr-merged packages ship usr/lib/modules.
	mods=$root/lib/modules/$kver
	if [ ! -d "$mods" ] && [ -d "$root/usr/lib/modules/$kver" ]; then
		mkdir -p "$root/lib/modules"
		mv "$root/usr/lib/modules/$kver" "$mods"
	fi
	img=$root/boot/vmlinuz-$kver
	if [ ! -f "$img" ]; then
		for deb in "$mods/vmlinuz.unsigned" "$mods/vmlinuz"; do
			[ -f "$deb" ] || continue
			mkdir -p "$root/boot"
			mv "$deb" "$img"
			break
		done
	fi
	if [ ! -f "$img" ] || [ ! -d "$mods" ]; then
		rm -rf "$tmp"
		die "the packages of $kver have no boot/vmlinuz-$kver (or vmlinuz.unsigned) or lib/modules/$kver"
	fi
	depmod -b "$root" "$kver" || { rm -rf "$tmp"; die "depmod failed for $kver"; }
	chmod 755 "$root"
	mv -T "$root" "$KDIR/$kver" || { rm -rf "$tmp"; die "cannot move $kver into the cache"; }
	rm -rf "$tmp"
	echo "vmtest: cached kernel $kver" >&2
}

# Run "$@" with the cache lock held.
with_lock() {
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		echo "vmtest: waiting for the cache lock $CACHE/.lock" >&2
		flock 9
	fi
	"$@"
	exec 9>&-
}

locked_pick() {
	local v
	if [ -n "${KVER:-}" ]; then
		kernel_ok "$KVER" || populate "$KVER"
		return
	fi
	if v=$(newest_cached "$KSERIES.*"); then
		KVER=$v
		return
	fi
	KVER=$(newest_available) || exit 125
	kernel_ok "$KVER" || populate "$KVER"
}

KVER=
if [ -n "${XS_KERNEL_VERSION:-}" ]; then
	KVER=${XS_KERNEL_VERSION#linux-image-}
	KVER=${KVER#linux-binary-unsigned-}
	KVER=${KVER%-unsigned}
	KVER=${KVER%-"$KFLAVOUR"}-$KFLAVOUR
	[[ $KVER =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "bad XS_KERNEL_VERSION '$XS_KERNEL_VERSION'"
	kernel_ok "$KVER" || with_lock locked_pick
else
	case ${XS_KERNEL:-default} in
	default | "$KSERIES")
		KVER=$(newest_cached "$KSERIES.*") || { KVER=; with_lock locked_pick; }
		;;
	newest) with_lock locked_pick_newest ;;
	*) die "XS_KERNEL must be default ($KSERIES) or newest, not '$XS_KERNEL'" ;;
	esac
fi
kernel_ok "$KVER" || die "kernel $KVER is not in the cache"
VMLINUZ=$KDIR/$KVER/boot/vmlinuz-$KVER
MODDIR=$KDIR/$KVER/lib/modules/$KVER

# The guest mounts a tmpfs on /lib/modules: the directory must exist.
[ -d /lib/modules ] || mkdir -p /lib/modules

# ------------------------------------------------------------ acceleration

kvm_usable() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	grep -qwE 'vmx|svm' /proc/cpuinfo || return 1
	[ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] || return 1
	[ ! -d /sys/module/kvm_pvm ] || return 1
}

case $ACCEL in
auto)
	if kvm_usable; then ACCEL=kvm; else ACCEL=tcg; fi
	;;
kvm)
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		die "XS_VM_ACCEL=kvm but /dev/kvm is not usable"
	fi
	;;
tcg) ;;
*) die "XS_VM_ACCEL must be kvm, tcg or auto, not '$ACCEL'" ;;
esac
if [ "$ACCEL" = kvm ]; then
	ACCEL_ARGS=(-accel kvm -cpu host)
elif [ -n "${XS_VM_ICOUNT:-}" ]; then
	[[ $XS_VM_ICOUNT =~ ^[0-9]+$ ]] || die "XS_VM_ICOUNT must be a shift (0-10), not '$XS_VM_ICOUNT'"
	# Guest time from the instruction count (2^shift ns each): CPU time
	# then counts guest instructions, whatever the host's load.
	# icount needs one TCG thread.
	ACCEL_ARGS=(-accel tcg,thread=single -cpu "max,-cx16" -icount "shift=$XS_VM_ICOUNT,sleep=off")
else
	ACCEL_ARGS=(-accel "tcg,thread=$TCG_THREAD" -cpu "max,-cx16")
fi

# ---------------------------------------------------------------- run dir

RUNS=$CACHE/run
LOGS=$CACHE/logs
mkdir -p "$RUNS" "$LOGS"

# Remove run directories of runs whose script is gone (e.g. SIGKILL).
for d in "$RUNS"/run.*; do
	[ -d "$d" ] || continue
	p=${d##*/run.}
	p=${p%%.*}
	[[ $p =~ ^[0-9]+$ ]] || continue
	kill -0 "$p" 2>/dev/null || rm -rf -- "$d"
done

RUN=$(mktemp -d "$RUNS/run.$$.XXXXXX")
chmod 755 "$RUN"
# A unix socket path must fit in 108 bytes.
SOCKDIR=
if [ ${#RUN} -le 90 ]; then
	SOCK=$RUN/vfs.sock
else
	SOCKDIR=$(mktemp -d "${TMPDIR:-/tmp}/xs-vm.XXXXXX")
	SOCK=$SOCKDIR/vfs.sock
fi
VFS_PID=
QEMU_PID=
TAIL_PID=

kill_wait() {
	local pid=$1 _
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	trap - EXIT INT TERM HUP
	kill_wait "$QEMU_PID"
	kill_wait "$VFS_PID"
	kill_wait "$TAIL_PID"
	[ -z "$SOCKDIR" ] || rm -rf -- "$SOCKDIR"
	if [ "${XS_VM_KEEP:-0}" = 1 ]; then
		echo "vmtest: kept run directory $RUN" >&2
	else
		rm -rf -- "$RUN"
	fi
}

on_signal() {
	echo "vmtest: interrupted by SIG$1, killing the VM" >&2
	cleanup
	case $1 in
	INT) exit 130 ;;
	HUP) exit 129 ;;
	*) exit 143 ;;
	esac
}

trap cleanup EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

# fstab(5) escapes for a path: backslash, space, tab, newline.
fstab_path() {
	local p=${1//\\/\\134}
	p=${p// /\\040}
	p=${p//$'\t'/\\011}
	p=${p//$'\n'/\\012}
	printf '%s' "$p"
}

# The guest's mounts, in order (vm-init.sh runs "mount -a -T" on this).
# RUN, the modules and the working directory are first bound under
# /dev/.xs-vm, since the tmpfs mounts on /run and /tmp could hide them, and
# then bound to their places.
STASH=/dev/.xs-vm
{
	echo "sysfs /sys sysfs nosuid,nodev,noexec 0 0"
	echo "devtmpfs /dev devtmpfs mode=0755,nosuid 0 0"
	echo "$(fstab_path "$RUN") $STASH/run none bind,X-mount.mkdir 0 0"
	echo "$(fstab_path "$MODDIR") $STASH/mod none bind,X-mount.mkdir 0 0"
	if [ "$HOST_CWD" != / ]; then
		echo "$(fstab_path "$HOST_CWD") $STASH/cwd none bind,X-mount.mkdir 0 0"
	fi
	echo "devpts /dev/pts devpts mode=0620,ptmxmode=0666,X-mount.mkdir 0 0"
	echo "tmpfs /dev/shm tmpfs mode=1777,nosuid,nodev,X-mount.mkdir 0 0"
	echo "tmpfs /run tmpfs mode=0755,nosuid,nodev 0 0"
	echo "tmpfs /tmp tmpfs mode=1777,nosuid,nodev 0 0"
	echo "bpffs /sys/fs/bpf bpf mode=0700 0 0"
	echo "cgroup2 /sys/fs/cgroup cgroup2 nsdelegate 0 0"
	echo "debugfs /sys/kernel/debug debugfs defaults 0 0"
	echo "tracefs /sys/kernel/tracing tracefs defaults 0 0"
	echo "modules /lib/modules tmpfs mode=0755 0 0"
	echo "$STASH/mod /lib/modules/$KVER none bind,X-mount.mkdir 0 0"
	echo "$STASH/run /run/xs-vm none bind,X-mount.mkdir 0 0"
	if [ "$HOST_CWD" != / ]; then
		echo "$STASH/cwd $(fstab_path "$HOST_CWD") none bind,X-mount.mkdir 0 0"
	fi
} >"$RUN/fstab"
: >"$RUN/output"

# The guest command: cd, a clean environment, exec.
{
	printf 'cd -- %q || { echo "vmtest (guest): cannot enter %q" >&2; exit 125; }\n' \
		"$HOST_CWD" "$HOST_CWD"
	printf 'unset OLDPWD\nexport PATH=%q HOME=/root\n' "$GUEST_PATH"
	for v in T V CI TERM $(compgen -e -- XS_ || true); do
		[ -n "${!v+set}" ] || continue
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'exec --'
	printf ' %q' "$@"
	printf '\n'
} >"$RUN/cmd"

# Keep the console log of this boot in $LOGS; print its path.
keep_log() {
	local log
	log=$LOGS/console-$(date +%Y%m%d-%H%M%S)-$$-$ATTEMPT.log
	cp -- "$RUN/console.log" "$log" 2>/dev/null || log="(no console log)"
	# Keep the newest 20 logs (the names sort by time).
	local logs=("$LOGS"/console-*.log)
	if [ ${#logs[@]} -gt 20 ]; then
		rm -f -- "${logs[@]:0:${#logs[@]}-20}"
	fi
	echo "$log"
}

# Failure report: message, last console lines, kept log.
report() {
	local rc=$1 msg=$2 log
	log=$(keep_log)
	{
		echo "vmtest: $msg"
		if [ -s "$RUN/qemu.log" ]; then
			echo "vmtest: qemu said:"
			tail -n 20 "$RUN/qemu.log"
		fi
		echo "vmtest: last lines of the guest console ($log):"
		tail -n 60 "$RUN/console.log" 2>/dev/null || true
		echo "vmtest: full guest console log: $log"
	} >&2
	exit "$rc"
}

# ---------------------------------------------------------------- boot

APPEND="root=$FS_TAG rootfstype=virtiofs rw console=ttyS0 panic=-1"
# no_timer_check: under TCG on a loaded host the IO-APIC timer check can
# fail and panic the boot ("IO-APIC + timer doesn't work"), as seen here.
APPEND+=" init=/bin/bash mitigations=off no_timer_check ${XS_VM_CMDLINE:-}"
# After "--": vm-init.sh's own arguments.
INIT_ARGS=" -- $SCRIPT_DIR/vm-init.sh $RUN"

start_virtiofsd() {
	rm -f -- "$SOCK"
	# Children die with this script even on SIGKILL (setpriv --pdeathsig).
	setpriv --pdeathsig KILL -- "$VIRTIOFSD" --socket-path="$SOCK" \
		-o source=/ -o cache=always -o sandbox=chroot \
		</dev/null >"$RUN/virtiofsd.log" 2>&1 &
	VFS_PID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && break
		kill -0 "$VFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -S "$SOCK" ]; then
		cat "$RUN/virtiofsd.log" >&2 || true
		die "virtiofsd did not start"
	fi
}

# Has the guest started COMMAND?  vm-init.sh creates $RUN/started just
# before it runs it (a create on virtio-fs is done by virtiofsd on the host
# before the guest's call returns) and prints "running command" on the
# console.  Any of these, or any output, means it started: such a run is
# never booted again, whatever happens to it later.
cmd_started() {
	[ -e "$RUN/started" ] || [ -s "$RUN/output" ] ||
		grep -q '^vm-init: .* running command' "$RUN/console.log" 2>/dev/null
}

# One boot: qemu runs until it exits, or is killed when COMMAND has not
# started within BOOT_TIMEOUT s.  Sets QRC to qemu's exit status (124:
# XS_VM_TIMEOUT) and BOOT_HUNG to 1 when the boot timeout killed it.
boot_once() {
	local t0=$SECONDS append=$APPEND
	# Test hook (scripts/vm-boot-loop.sh): the first N boots panic before
	# init, as a boot that meets a kernel bug would.
	if [ "$ATTEMPT" -le "${XS_VM_INJECT_BOOT_PANIC:-0}" ]; then
		append+=" root=xs-injected-boot-panic"
	fi
	append+=$INIT_ARGS
	rm -f -- "$RUN/started" "$RUN/status" "$RUN/console.log" "$RUN/qemu.log"
	: >"$RUN/output"
	start_virtiofsd
	# timeout(1) enforces XS_VM_TIMEOUT and reports it as 124.
	setpriv --pdeathsig TERM -- timeout -k 5 "$TIMEOUT" \
		"$QEMU" -nodefaults -no-user-config -nographic -display none -no-reboot \
		"${ACCEL_ARGS[@]}" -smp "$CPUS" -m "$MEM" \
		-object "memory-backend-memfd,id=mem,size=$MEM,share=on" \
		-numa node,memdev=mem \
		-chardev "socket,id=vfs,path=$SOCK" \
		-device "vhost-user-fs-pci,chardev=vfs,tag=$FS_TAG" \
		-serial "file:$RUN/console.log" -monitor none -nic none \
		-kernel "$VMLINUZ" -append "$append" \
		</dev/null >"$RUN/qemu.log" 2>&1 &
	QEMU_PID=$!

	tail -s 0.1 -n +1 -f --pid="$QEMU_PID" "$RUN/output" &
	TAIL_PID=$!

	BOOT_HUNG=0
	QRC=0
	while kill -0 "$QEMU_PID" 2>/dev/null && ! cmd_started; do
		if [ $((SECONDS - t0)) -ge "$BOOT_TIMEOUT" ]; then
			BOOT_HUNG=1
			kill_wait "$QEMU_PID"
			QEMU_PID=
			break
		fi
		sleep 0.2
	done
	if [ -n "$QEMU_PID" ]; then
		wait "$QEMU_PID" || QRC=$?
		QEMU_PID=
	fi
	wait "$TAIL_PID" || true
	TAIL_PID=
	# virtiofsd ends with its client; make sure before the next boot.
	kill_wait "$VFS_PID"
	VFS_PID=
}

# Why a boot that did not start COMMAND failed, on one line: when, what
# the console shows (the first panic or Oops line), how qemu ended.
boot_failure() {
	local when=before what oops
	grep -q 'vm-init: .* mounts done' "$RUN/console.log" 2>/dev/null && when="after init's mounts, before"
	what="qemu exit status $QRC"
	if [ "$BOOT_HUNG" = 1 ]; then
		what="not started within $BOOT_TIMEOUT s (XS_VM_BOOT_TIMEOUT), VM killed"
	elif [ "$QRC" -eq 124 ]; then
		what="XS_VM_TIMEOUT ($TIMEOUT s) passed, VM killed"
	fi
	oops=$(grep -a -m1 -E 'Oops|BUG:|Kernel panic|general protection' "$RUN/console.log" 2>/dev/null |
		sed -e 's/^\[[ 0-9.]*\] *//' | tr -d '\r' | cut -c1-120) || true
	echo "${when} the command started: ${oops:+$oops; }$what"
}

ATTEMPT=0
while :; do
	ATTEMPT=$((ATTEMPT + 1))
	boot_once
	if [ -f "$RUN/status" ]; then
		status=$(cat "$RUN/status")
		[[ $status =~ ^[0-9]+$ ]] || report 125 "guest wrote a bad exit status '$status'"
		[ "$ATTEMPT" -eq 1 ] || echo "vmtest: the command ran on boot $ATTEMPT of $BOOT_ATTEMPTS" >&2
		exit "$status"
	fi
	if cmd_started; then
		# A real failure of the run: never retried.
		if [ "$QRC" -eq 124 ]; then
			report 124 "command did not finish within $TIMEOUT s (XS_VM_TIMEOUT), VM killed"
		fi
		what="qemu exit status $QRC"
		if grep -q 'Kernel panic' "$RUN/console.log" 2>/dev/null; then
			what="kernel panic, $what"
		fi
		report 125 "VM died after the command started, before it returned an exit status ($what)"
	fi
	# COMMAND never started.  Some of that is not chance: qemu that does not
	# start at all, or vm-init.sh refusing its run directory.
	if [ "$QRC" -ne 0 ] && [ "$QRC" -ne 124 ] && [ "$BOOT_HUNG" = 0 ] && [ ! -s "$RUN/console.log" ]; then
		report 125 "qemu failed to start (qemu exit status $QRC)"
	fi
	if grep -q '^vm-init: .*FATAL' "$RUN/console.log" 2>/dev/null; then
		report 125 "VM failed to boot: $(grep -a -m1 '^vm-init: .*FATAL' "$RUN/console.log" | tr -d '\r')"
	fi
	why=$(boot_failure)
	if [ "$ATTEMPT" -ge "$BOOT_ATTEMPTS" ]; then
		report 125 "VM failed to boot $ATTEMPT times in a row (XS_VM_BOOT_ATTEMPTS=$BOOT_ATTEMPTS); last: $why"
	fi
	log=$(keep_log)
	echo "vmtest: boot $ATTEMPT of $BOOT_ATTEMPTS failed ($why); console log $log; booting again" >&2
done

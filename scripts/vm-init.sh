#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM started by scripts/vmtest.sh; not meant to be run on
# a host.  The kernel starts it as "/bin/bash vm-init.sh RUNDIR" with the
# host's root file system (shared over virtio-fs, still read-write) as "/".
#
# RUNDIR is a host directory, prepared by vmtest.sh:
#   fstab    every mount of the guest, in order (mount -a -T fstab): sysfs,
#            devtmpfs, devpts, tmpfs on /dev/shm, /run, /tmp, /lib/modules,
#            bpffs, cgroup2, debugfs, tracefs, and bind mounts that make
#            RUNDIR appear at /run/xs-vm, put the kernel's modules at
#            /lib/modules/VERSION and keep the working directory writable
#   cmd      bash script: cd, environment, exec of the user's command
#   output   the command's stdout and stderr are appended here
#   started  created just before the command runs (vmtest.sh retries a
#            boot only when it is missing)
#   status   written at the end: the command's exit status
# After the mounts "/" is remounted read-only (per mount: the bind mounts
# stay writable).
#
# Every program started here costs ~50-100 ms under TCG, so the script keeps
# to bash builtins where it can.  It must never exit (PID 1): whatever
# fails, it ends by powering the VM off.  No "set -e" on purpose.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 022

GUEST_RUN=/run/xs-vm
run=${1:-}

say() {
	local up='?' _
	read -r up _ </proc/uptime 2>/dev/null
	echo "vm-init: [$up] $*"
}

poweroff_now() {
	sync
	echo o >/proc/sysrq-trigger 2>/dev/null
	sleep 5
	# Power-off did not work: a reboot ends qemu as well (-no-reboot).
	echo b >/proc/sysrq-trigger 2>/dev/null
	while :; do
		sleep 3600
	done
}

fail() {
	say "FATAL: $*"
	poweroff_now
}

mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount /proc"
if [ -z "$run" ] || [ ! -f "$run/fstab" ]; then
	fail "no fstab in run directory '$run'"
fi
mount -a -T "$run/fstab" || say "warning: some mounts failed"
# The kernel may have found no usable console on the shared root's /dev.
exec </dev/null >/dev/console 2>&1
read -r kver </proc/sys/kernel/osrelease
say "mounts done (kernel $kver)"
[ -f "$GUEST_RUN/cmd" ] || fail "$GUEST_RUN/cmd missing"

# Everything but the bind mounts stays read-only.
mount -o remount,bind,ro / || say "warning: cannot make / read-only"
# The parked copies under /dev are no longer needed.
umount /dev/.xs-vm/* 2>/dev/null

echo xs-vm >/proc/sys/kernel/hostname
ip link set lo up || say "warning: cannot bring up lo"

# Every ping turns socket timestamps on and off, and with them the kernel's
# netstamp static key; its live patching of netif_rx() races with packets
# on the other vCPU under qemu TCG ("Oops: int3" seen here). A socket that
# holds SO_TIMESTAMP (29) for the whole run keeps the key on, so the code
# is never patched while traffic flows. perl-base is Essential in Debian.
perl -e 'use Socket; socket(my $s, PF_INET, SOCK_DGRAM, 0) or exit 1;
	setsockopt($s, SOL_SOCKET, 29, 1) or exit 1; sleep' </dev/null >/dev/null 2>&1 &

say "running command"
# vmtest.sh boots again only when this file is missing: from here on a
# failure is the command's, not the boot's.
: >"$GUEST_RUN/started" || say "warning: cannot write $GUEST_RUN/started"
# exec -c: start from an empty environment; cmd sets what it needs.
(exec -c /bin/bash --norc --noprofile "$GUEST_RUN/cmd") \
	</dev/null >>"$GUEST_RUN/output" 2>&1
rc=$?
say "command exited with status $rc"

# Background processes the command left behind must not keep running.
kill -KILL -1 2>/dev/null

echo "$rc" >"$GUEST_RUN/status" || say "cannot write the exit status"
poweroff_now

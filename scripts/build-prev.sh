#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the CLI of an earlier commit into DIR/xfrm-steer, for the test that
# upgrades a gateway attached by that version (tests/test-upgrade-prev*.sh,
# tests/test-upgrade-last.sh).
# Without that commit in the history (a shallow clone) it writes the reason
# to DIR/SKIP instead, which the test prints as its SKIP.
# Usage: scripts/build-prev.sh DIR COMMIT
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
ref=$2
if [ -x "$dir/xfrm-steer" ] && [ "$(cat "$dir/ref" 2>/dev/null)" = "$ref" ]; then
	exit 0
fi
rm -rf "$dir"
mkdir -p "$dir/src"
if ! git cat-file -e "$ref^{commit}" 2>/dev/null; then
	echo "commit $ref is not in this clone's history" >"$dir/SKIP"
	exit 0
fi
echo "  PREV     $dir/xfrm-steer ($(git log -1 --format='%h %s' "$ref"))"
git archive "$ref" | tar -x -C "$dir/src"
make -C "$dir/src" --no-print-directory OUT=build all >"$dir/build.log" 2>&1 ||
	{ cat "$dir/build.log" >&2; exit 1; }
cp "$dir/src/build/xfrm-steer" "$dir/xfrm-steer"
echo "$ref" >"$dir/ref"

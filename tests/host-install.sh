#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Packaging checks as part of the suite, run on the build machine (tests/host-*.sh): make install/uninstall into a
# staging directory, the man page against the command's help, the bash
# completion against the same. They need no kernel features and also run
# on their own on the build machine (tests/check-*.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tests/check-install.sh
tests/check-man.sh
tests/check-completion.sh

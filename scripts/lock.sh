#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Re-pin requirements.txt: resolve requirements.in in a scratch virtualenv and freeze it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT
"${CW_PYTHON:-python3}" -m venv "${scratch}"
"${scratch}/bin/pip" install --quiet --disable-pip-version-check -r "${CW_ROOT}/requirements.in"
{
  echo "# Pinned Python requirements of the controller, the test harness and the app-side package."
  echo "# Resolved on $("${scratch}/bin/python" -V) from requirements.in by scripts/lock.sh (make lock)."
  "${scratch}/bin/pip" freeze --all --exclude pip
} >"${CW_ROOT}/requirements.txt"
info "requirements.txt re-pinned"
bash "$(dirname "$0")/app-pins.sh"

# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the scripts in this folder: progress messages, timing, failing loudly.

CW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CW_VENV="${CW_VENV:-${CW_ROOT}/.venv}"
export CW_ROOT CW_VENV

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\n\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# Seconds since the epoch, for the timing summaries.
now() { date +%s; }

# Put the project's virtualenv first on PATH (after scripts/venv.sh created it).
use_venv() {
  [ -x "${CW_VENV}/bin/python" ] || die "no virtualenv at ${CW_VENV}: run scripts/venv.sh (make venv)"
  export PATH="${CW_VENV}/bin:${PATH}"
  export VIRTUAL_ENV="${CW_VENV}"
  export ANSIBLE_CONFIG="${CW_ROOT}/ansible.cfg"
}

# Install Debian packages when we are root on Debian; otherwise say what is missing.
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "missing: $*. Install them (Debian: apt-get install $*) and run again."
  fi
  info "installing from Debian: $*"
  [ -n "$(find /var/lib/apt/lists -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ] \
    || DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

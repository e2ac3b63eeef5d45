#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv from the pinned requirements.txt.
# Idempotent: nothing is installed when the venv already matches the pins.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PYTHON="${CW_PYTHON:-python3}"
stamp="${CW_VENV}/.cachewright-requirements"
want="$(sha256sum "${CW_ROOT}/requirements.txt" | cut -c1-16)"

if [ -x "${CW_VENV}/bin/python" ] && [ "$(cat "${stamp}" 2>/dev/null)" = "${want}" ]; then
  info "virtualenv ${CW_VENV} matches requirements.txt (${want})"
  exit 0
fi
command -v "${PYTHON}" >/dev/null || die "${PYTHON} not found: install Python 3.11 or newer"
if ! "${PYTHON}" -m venv --help >/dev/null 2>&1 || ! "${PYTHON}" -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    info "installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
  else
    die "${PYTHON} cannot create virtualenvs: install python3-venv"
  fi
fi
info "creating ${CW_VENV} from requirements.txt (${want})"
"${PYTHON}" -m venv "${CW_VENV}"
"${CW_VENV}/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
"${CW_VENV}/bin/pip" install --quiet --disable-pip-version-check -r "${CW_ROOT}/requirements.txt"
echo "${want}" >"${stamp}"
info "virtualenv ready"

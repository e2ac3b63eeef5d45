#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Create (or refresh) the project's virtualenv from the pinned requirements.txt, with the
# app-side package (roles/django_cache/files/cachewright_django) installed editable with its
# report extra, so tests and tools import it like any installed package.
# Idempotent: nothing is installed when the venv already matches the pins and the package's
# pyproject.toml.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PYTHON="${CW_PYTHON:-python3}"
stamp="${CW_VENV}/.cachewright-requirements"
package="${CW_ROOT}/roles/django_cache/files/cachewright_django"
want="$(cat "${CW_ROOT}/requirements.txt" "${package}/pyproject.toml" | sha256sum | cut -c1-16)"

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
# Its dependencies are the pins above: no resolution, no build environment to download.
"${CW_VENV}/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
  -e "${package}[report]"
echo "${want}" >"${stamp}"
info "virtualenv ready"

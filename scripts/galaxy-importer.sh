#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Galaxy importer (galaxy-importer, what galaxy.ansible.com and Automation Hub run on an
# upload) on the tarball `ansible-galaxy collection build` makes, offline: its own virtualenv
# (.cache/galaxy-importer, at the pin below, apart from the kit's: it pins its own
# ansible-core), ansible-lint on, ansible-test off (scripts/sanity.sh runs it, with the pip
# bootstrap this workplace needs), no network. Fails when the importer fails or logs an ERROR.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

GALAXY_IMPORTER="galaxy-importer==0.4.44"
venv="${CW_ROOT}/.cache/galaxy-importer"
if [ ! -x "${venv}/bin/python" ] || ! "${venv}/bin/pip" show -q galaxy-importer 2>/dev/null \
  || [ "$("${venv}/bin/pip" show galaxy-importer | awk '/^Version:/ {print $2}')" != "${GALAXY_IMPORTER#*==}" ]; then
  rm -rf "${venv}"
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install -q --disable-pip-version-check "${GALAXY_IMPORTER}" 2>&1 | grep -v '^WARNING: Location' || true
fi
"${venv}/bin/pip" show -q galaxy-importer || die "${GALAXY_IMPORTER} did not install"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
use_venv
ansible-galaxy collection build --force --output-path "${work}" "${CW_ROOT}" >/dev/null
cat >"${work}/galaxy-importer.cfg" <<'CFG'
[galaxy-importer]
LOG_LEVEL_MAIN = INFO
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
RUN_FLAKE8 = False
CHECK_REQUIRED_TAGS = False
CFG
tarball="$(ls "${work}"/cachewright-cache-*.tar.gz)"
info "${GALAXY_IMPORTER} on $(basename "${tarball}")"
rc=0
(cd "${work}" && GALAXY_IMPORTER_CONFIG="${work}/galaxy-importer.cfg" "${venv}/bin/python" -m galaxy_importer.main "${tarball}") \
  >"${work}/importer.log" 2>&1 || rc=$?
sed 's/^/    | /' "${work}/importer.log" | grep -E 'WARNING|ERROR|complete|completed|Loading' || true
errors="$(grep -c 'ERROR' "${work}/importer.log" || true)"
warnings="$(grep -c 'WARNING' "${work}/importer.log" || true)"
info "galaxy-importer: exit ${rc}, ${errors} errors, ${warnings} warnings"
[ "${rc}" = 0 ] && [ "${errors}" = 0 ] || die "the Galaxy importer refused the collection or logged an error"

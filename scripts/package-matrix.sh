#!/usr/bin/env bash
# The version matrix of the app-side package (cachewright-django) against its built wheel.
# The cells are those of django_settings/cachewright-django/noxfile.py (Python x Django
# series); this script stages the wheel and the package's tests once (the noxfile's `stage`
# session, on this machine), then runs the noxfile's cells of each Python in a container of
# the local test image whose python3 it is (3.11: cachewright/debian:bookworm, 3.13:
# cachewright/debian:trixie; scripts/images.sh builds them): Debian's interpreter,
# redis-server and memcached, on the container's own loopback (the tests start servers on
# fixed ports, which a test run on this machine may hold). It prints each cell's result
# and counts, and exits non-zero when a cell failed or did not run.
#   scripts/package-matrix.sh                 every cell
#   scripts/package-matrix.sh 3.13            the cells of Python 3.13 only
#   scripts/package-matrix.sh -- -k cluster   arguments after -- go to pytest
# Caches under .cache/package-matrix/ (CW_MATRIX_CACHE): pip's, apt's lists and .deb files,
# and the wheels built for a Python (pylibmc for 3.13: PyPI has no wheel), per suite.
# Logs: .cache/package-matrix/logs/<suite>.log; results: .cache/package-matrix/results/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "${CW_ROOT}"

CACHE="${CW_MATRIX_CACHE:-${CW_ROOT}/.cache/package-matrix}"
NOXFILE="${CW_ROOT}/django_settings/cachewright-django/noxfile.py"
IMAGE_REPO="${CW_IMAGE_REPO:-cachewright/debian}"
# The controller's CA bundle, for pip in the containers (as molecule/shared/platform_defaults.yml).
CONTROLLER_CA="/etc/ssl/certs/ca-certificates.crt"
declare -A SUITE=([3.11]=bookworm [3.13]=trixie)

PYTHONS=()
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; PYTEST_ARGS=("$@"); break ;;
    -h | --help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) [ -n "${SUITE[$1]:-}" ] || die "no test image for Python $1 (known: ${!SUITE[*]})"
       PYTHONS+=("$1"); shift ;;
  esac
done

# Runs in a container (declare -f sends it there): Debian's servers and interpreter, nox
# at the kit's pin, then the noxfile's cells of one Python from a copy of the staged folder.
in_container() {
  local python="$1" nox_pin="$2" pylibmc_pin="$3"
  shift 3
  set -euo pipefail
  export DEBIAN_FRONTEND=noninteractive
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d # installed servers are not started
  chmod +x /usr/sbin/policy-rc.d
  echo "==> apt: Python's venv, redis-server, memcached, openssl"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends python3-venv redis-server redis-tools memcached openssl >/dev/null
  echo "==> nox: ${nox_pin}"
  python3 -m venv /opt/nox
  /opt/nox/bin/pip install -q "${nox_pin}"
  # pylibmc (a test tool) has wheels on PyPI for some Pythons only: else built here, once
  # (the wheels folder is cached).
  if ! /opt/nox/bin/pip download -q --no-deps --only-binary=:all: --find-links /cache/wheels \
    -d /cache/wheels "${pylibmc_pin}" 2>/dev/null; then
    echo "==> building ${pylibmc_pin} (no wheel for this Python)"
    apt-get install -y -q --no-install-recommends gcc libc6-dev python3-dev libmemcached-dev zlib1g-dev >/dev/null
    /opt/nox/bin/pip wheel -q --no-deps -w /cache/wheels "${pylibmc_pin}"
  fi
  cp -a /stage /matrix
  cd /matrix
  echo "==> nox: the cells of Python ${python}"
  PIP_FIND_LINKS="/cache/wheels /var/cache/cachewright/wheels" CW_MATRIX_RESULTS=/results \
    /opt/nox/bin/nox -f noxfile.py -s tests -p "${python}" --report "/results/nox-${python}.json" -- "$@"
}

CONTAINER=""
cleanup() {
  if [ -n "${CONTAINER}" ]; then
    docker rm -f "${CONTAINER}" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

T0=$(now)
use_venv
command -v docker >/dev/null || die "docker is missing: run scripts/docker-engine.sh first"

step "Stage the wheel and the package's tests (${NOXFILE#"${CW_ROOT}/"}, session stage)"
mkdir -p "${CACHE}/logs"
rm -rf "${CACHE}/results"
mkdir -p "${CACHE}/results"
CW_MATRIX_STAGE="${CACHE}/stage" nox -f "${NOXFILE}" -s stage >"${CACHE}/logs/stage.log" 2>&1 \
  || { tail -n 30 "${CACHE}/logs/stage.log"; die "staging failed (log: ${CACHE}/logs/stage.log)"; }
info "$(python -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["wheel"], d["sha256"][:16])' "${CACHE}/stage/stage.json")"

# The cells (the noxfile's), and the Pythons to run.
CELLS_JSON="${CACHE}/results/cells.json"
nox -f "${NOXFILE}" -l --json 2>/dev/null >"${CELLS_JSON}"
mapfile -t ALL_PYTHONS < <(python -c '
import json, sys
print("\n".join(sorted({s["python"] for s in json.load(open(sys.argv[1])) if s["name"] == "tests"})))
' "${CELLS_JSON}")
[ "${#PYTHONS[@]}" -gt 0 ] || PYTHONS=("${ALL_PYTHONS[@]}")

NOX_PIN="$(grep -i '^nox==' requirements.txt | cut -d' ' -f1)"
PYLIBMC_PIN="$(grep -i '^pylibmc==' requirements.txt | cut -d' ' -f1)"
for python in "${PYTHONS[@]}"; do
  suite="${SUITE[${python}]:-}"
  [ -n "${suite}" ] || die "the noxfile has cells for Python ${python}: no test image is known for it"
  image="${IMAGE_REPO}:${suite}"
  docker image inspect "${image}" >/dev/null 2>&1 || die "${image} is missing: run scripts/images.sh (make images)"
  step "Python ${python}: the cells in ${image}"
  mkdir -p "${CACHE}/pip/${suite}" "${CACHE}/wheels/${suite}" \
    "${CACHE}/apt/${suite}/lists/partial" "${CACHE}/apt/${suite}/archives/partial"
  ca=()
  if [ -f "${CONTROLLER_CA}" ]; then
    ca=(-v "${CONTROLLER_CA}:/etc/cachewright/controller-ca.crt:ro" -e PIP_CERT=/etc/cachewright/controller-ca.crt)
  fi
  CONTAINER="cw-nox-${suite}-$$"
  t=$(now)
  rc=0
  docker run --rm --name "${CONTAINER}" "${ca[@]}" \
    -v "${CACHE}/stage:/stage:ro" -v "${CACHE}/results:/results" \
    -v "${CACHE}/pip/${suite}:/root/.cache/pip" -v "${CACHE}/wheels/${suite}:/cache/wheels" \
    -v "${CACHE}/apt/${suite}/lists:/var/lib/apt/lists" -v "${CACHE}/apt/${suite}/archives:/var/cache/apt/archives" \
    "${image}" bash -c "$(declare -f in_container); in_container \"\$@\"" in_container \
    "${python}" "${NOX_PIN}" "${PYLIBMC_PIN}" "${PYTEST_ARGS[@]}" \
    >"${CACHE}/logs/${suite}.log" 2>&1 || rc=$?
  CONTAINER=""
  echo "${suite} $(( $(now) - t ))" >>"${CACHE}/results/containers.txt"
  info "${image}: $(( $(now) - t ))s, exit ${rc} (log: ${CACHE#"${CW_ROOT}/"}/logs/${suite}.log)"
  [ "${rc}" = 0 ] || tail -n 40 "${CACHE}/logs/${suite}.log" | sed 's/^/    | /'
done

step "The matrix"
rc=0
python - "${CACHE}/results" "${PYTHONS[@]}" <<'PY' || rc=$?
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

results, pythons = Path(sys.argv[1]), sys.argv[2:]
cells = [s for s in json.loads((results / "cells.json").read_text()) if s["name"] == "tests"]
outcome = {}
for report in results.glob("nox-*.json"):
    for session in json.loads(report.read_text())["sessions"]:
        outcome[session["signatures"][0] if session["signatures"] else session["name"]] = session["result"]
header = ("cell", "python", "Django", "django-redis", "redis", "pymemcache", "result", "passed", "failed",
          "errors", "skipped", "seconds")
rows, bad = [], 0
for session in cells:
    if session["python"] not in pythons:
        continue
    django = session["call_spec"]["django"]
    cell = f"py{session['python']}-django{django}"
    versions = {}
    if (results / f"{cell}.versions.json").is_file():
        versions = json.loads((results / f"{cell}.versions.json").read_text())
    counts = ["-"] * 5
    if (results / f"{cell}.xml").is_file():
        suite = ET.parse(results / f"{cell}.xml").getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        total, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        counts = [total - failures - errors - skipped, failures, errors, skipped, round(float(suite.get("time", 0)))]
    result = {"success": "passed", "failed": "FAILED", "skipped": "SKIPPED"}.get(
        outcome.get(session["session"], ""), "NOT RUN"
    )
    if result != "passed" or counts[0] == "-" or counts[1] or counts[2]:
        result = "FAILED" if result == "passed" else result
        bad += 1
    rows.append((cell, versions.get("python", session["python"]), versions.get("Django", "?"),
                 versions.get("django-redis", "?"), versions.get("redis", "?"), versions.get("pymemcache", "?"),
                 result, *counts))
widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
for row in [header, *rows]:
    print("    " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
sys.exit(1 if bad or not rows else 0)
PY
info "wall time: $(( $(now) - T0 ))s"
[ "${rc}" = 0 ] || die "a cell of the package matrix failed (logs: ${CACHE#"${CW_ROOT}/"}/logs/)"
info "every cell passed"

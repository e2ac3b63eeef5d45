#!/usr/bin/env bash
# The test command (`make test`): installs what it needs, then runs every check.
#   venv -> collections (offline) -> Docker engine -> test images -> lint -> pytest ->
#   the collection built, installed and used from outside the repository ->
#   every Molecule scenario (roles/*/molecule/* and molecule/*), stopping at the first failure ->
#   the README's main job end to end on the lab.
# CW_SCENARIOS="memcached:pool redis_server:default" runs only those scenarios (CW_SCENARIOS=none:
# none of them); CW_COLLECTION=0 skips the collection's run; CW_LAB=0 skips the lab run.
# Molecule and the lab run with Mitogen's strategy; CW_MITOGEN=0 runs both with Ansible's linear one.
# Logs of each scenario: .cache/logs/<role>-<scenario>.log
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "${CW_ROOT}"

declare -a SUMMARY=()
PASSED=0
FAILED=0
T0=$(now)
timed() { # timed LABEL COMMAND...: run, record the wall time in the summary
  local label="$1" t rc=0
  shift
  t=$(now)
  "$@" || rc=$?
  if [ "${rc}" = 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
  SUMMARY+=("$(printf '%-40s %5ss  %s' "${label}" "$(( $(now) - t ))" "$([ "${rc}" = 0 ] && echo ok || echo FAILED)")")
  return "${rc}"
}
print_summary() {
  step "Summary"
  printf '    %s\n' "${SUMMARY[@]}"
  info "total: $(( $(now) - T0 ))s"
  echo "checks: ${PASSED} passed, ${FAILED} failed"
}
trap print_summary EXIT

step "Python virtualenv (requirements.txt)"
timed "virtualenv" bash scripts/venv.sh
use_venv

step "Ansible collections (requirements.yml, offline)"
check_collections() {
  ansible-galaxy collection install --offline -r requirements.yml 2>&1 | sed 's/^/    /'
  # Every collection named in requirements.yml must be there.
  python - <<'PY'
import subprocess, sys, yaml
wanted = [c["name"] for c in yaml.safe_load(open("requirements.yml"))["collections"]]
listed = subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"],
                        capture_output=True, text=True, check=True).stdout
import json
have = {name for path in json.loads(listed).values() for name in path}
missing = [c for c in wanted if c not in have]
print("    collections present:", ", ".join(wanted) if not missing else "")
sys.exit(f"missing collections: {missing}" if missing else 0)
PY
}
timed "collections" check_collections

step "Docker engine"
timed "docker engine" bash scripts/docker-engine.sh

step "Test images (debootstrap + docker import + systemd layer)"
timed "test images" bash scripts/images.sh

step "Lint: yamllint, ansible-lint (production), ruff"
timed "yamllint" yamllint --strict .
timed "ansible-lint" ansible-lint --profile production --nocolor -q
timed "ruff check" ruff check .
timed "ruff format" ruff format --check .

# The collection's run (tests/test_collection_install.py) deploys into two containers and mostly
# waits on apt and pip there: it runs beside pytest, which is CPU-bound on the controller.
collection_e2e() {
  local log="${CW_ROOT}/.cache/logs/collection.log" t rc=0
  t=$(now)
  CW_COLLECTION_E2E=1 pytest -q -s -p no:cacheprovider tests/test_collection_install.py >"${log}" 2>&1 || rc=$?
  echo "collection run: $(( $(now) - t ))s, rc=${rc}" >>"${log}"
  return "${rc}"
}
collection_result() {
  local log="${CW_ROOT}/.cache/logs/collection.log" rc=0
  wait "${COLLECTION_PID}" || rc=$?
  if [ "${rc}" = 0 ]; then
    grep -E 'passed|failed|collection run' "${log}" | sed 's/^/    /'
    return 0
  fi
  tail -n 120 "${log}"
  return 1
}
mkdir -p .cache/logs
COLLECTION_PID=""
if [ "${CW_COLLECTION:-1}" != 0 ]; then
  step "Collection: built, installed, used from a directory outside the repository (beside pytest; log .cache/logs/collection.log)"
  collection_e2e &
  COLLECTION_PID=$!
fi

step "pytest (the Redis Cluster client tests start redis-server processes on loopback)"
command -v redis-server >/dev/null || apt_install redis-server
command -v memcached >/dev/null || apt_install memcached
timed "pytest" pytest -q
if [ -n "${COLLECTION_PID}" ]; then
  timed "collection (the wait after pytest)" collection_result
fi

step "Molecule scenarios"
mkdir -p .cache/logs
if [ "${CW_MITOGEN:-1}" = 0 ]; then
  export CW_MOLECULE_STRATEGY=linear
fi
scenarios=()
for file in roles/*/molecule/*/molecule.yml molecule/*/molecule.yml; do
  [ -f "${file}" ] || continue
  dir="$(dirname "$(dirname "$(dirname "${file}")")")" # roles/<role> or .
  name="$(basename "$(dirname "${file}")")"
  label="$( [ "${dir}" = "." ] && echo "cachewright" || basename "${dir}"):${name}"
  if [ -n "${CW_SCENARIOS:-}" ] && [[ " ${CW_SCENARIOS} " != *" ${label} "* ]]; then continue; fi
  scenarios+=("${dir}|${name}|${label}")
done
run_scenario() {
  local dir="$1" name="$2" label="$3" log
  log="${CW_ROOT}/.cache/logs/${label/:/-}.log"
  info "molecule test -s ${name}  (in ${dir}; log ${log#"${CW_ROOT}/"})"
  if (cd "${dir}" && molecule test -s "${name}") >"${log}" 2>&1; then
    grep -E '(idempotence|verify).*Executed' "${log}" | grep -v INFO | sed 's/^/      /' || true
    return 0
  fi
  printf '\n----- last 120 lines of %s -----\n' "${log}"
  tail -n 120 "${log}"
  return 1
}
for entry in "${scenarios[@]}"; do
  IFS='|' read -r dir name label <<<"${entry}"
  timed "molecule ${label}" run_scenario "${dir}" "${name}" "${label}"
done
[ "${#scenarios[@]}" -gt 0 ] || [ -n "${CW_SCENARIOS:-}" ] || die "no Molecule scenario found"

# The README's main job on the lab: lab up -> site.yml -> bench, a no-op rerun (changed=0),
# --check --diff (no change), lab down. CW_LAB=0 skips it (e.g. while iterating on a role).
if [ "${CW_LAB:-1}" != 0 ]; then
  step "Lab: the main job end to end (tests/test_lab_main_job.py; log .cache/logs/lab.log)"
  lab_e2e() {
    if CW_LAB_E2E=1 pytest -q -s -p no:cacheprovider tests/test_lab_main_job.py >"${CW_ROOT}/.cache/logs/lab.log" 2>&1; then
      grep -E '^lab: |passed|failed' "${CW_ROOT}/.cache/logs/lab.log" | sed 's/^/    /'
      return 0
    fi
    tail -n 150 "${CW_ROOT}/.cache/logs/lab.log"
    return 1
  }
  timed "lab main job (up, no-op, check, down)" lab_e2e
fi
step "All checks passed"

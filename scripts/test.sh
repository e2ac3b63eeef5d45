#!/usr/bin/env bash
# The test command (`make test`): installs what it needs, then runs every check.
#   venv -> collections (offline) -> Docker engine -> test images -> lint -> the jobs:
#   pytest, the collection built, installed and used from outside the repository, ansible-test
#   sanity and the Galaxy importer on the built collection, the app package's version matrix
#   (scripts/package-matrix.sh), every cell
#   of the Molecule matrix (molecule/matrix.txt: each scenario on its Debian releases and
#   flavours), the README's main job end to end on the lab (with the drills and the Valkey
#   migration). CW_LANES jobs (default 2) run at a time; the first failure stops the queue.
# CW_SCENARIOS="memcached:pool redis_sentinel:sentinel@trixie-valkey" runs only those cells
# (a scenario's name: all its cells; CW_SCENARIOS=none: none); CW_COLLECTION=0 skips the
# collection's run; CW_SANITY=0 skips ansible-test sanity and the Galaxy importer; CW_MATRIX=0
# skips the app package's version matrix; CW_LAB=0 skips the lab run;
# CW_LANES=1 runs one job at a time.
# Molecule and the lab run with Mitogen's strategy; CW_MITOGEN=0 runs both with Ansible's linear one.
# Logs of each job: .cache/logs/<job>.log
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
  SUMMARY+=("$(printf '%-58s %5ss  %s' "${label}" "$(( $(now) - t ))" "$([ "${rc}" = 0 ] && echo ok || echo FAILED)")")
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

# Everything after lint is a job: pytest, the collection's run, each cell of the Molecule
# matrix, the lab. CW_LANES (default 2) jobs run at a time, each taking the next job from the
# queue (longest first) whose group is not running: the cells of one scenario share its
# containers' names and Molecule's state, so they run one after the other. The first job
# that fails stops the queue; the jobs running finish. Each job's log: .cache/logs/<job>.log
mkdir -p .cache/logs
LOGS="${CW_ROOT}/.cache/logs"
if [ "${CW_MITOGEN:-1}" = 0 ]; then
  export CW_MOLECULE_STRATEGY=linear
fi
command -v redis-server >/dev/null || apt_install redis-server
command -v memcached >/dev/null || apt_install memcached
# promtool (Debian's prometheus package) checks and unit-tests the alert rules.
command -v promtool >/dev/null || apt_install prometheus
# The live tests fail (rather than skip) when a program they need is missing.
export CW_REQUIRE_PROGRAMS=1

job_pytest() {
  pytest -q -p no:cacheprovider
}

# The collection built, installed and used from a directory outside the repository.
job_collection() {
  CW_COLLECTION_E2E=1 pytest -q -s -p no:cacheprovider tests/test_collection_install.py
}

# One cell of the matrix: a scenario on CW_REDIS_SUITE / CW_REDIS_FLAVOR (a scenario that
# reads them; the others name their own images and flavours per host).
job_scenario() {
  local dir="$1" name="$2" suite="$3" flavor="$4"
  if [ "${suite}" = - ]; then
    (cd "${dir}" && molecule test -s "${name}")
  else
    (cd "${dir}" && CW_REDIS_SUITE="${suite}" CW_REDIS_FLAVOR="${flavor}" molecule test -s "${name}")
  fi
}

# ansible-test sanity on the built collection, with the ignores it ships; then the Galaxy
# importer on the same tarball.
job_sanity() {
  bash scripts/sanity.sh && bash scripts/galaxy-importer.sh
}

# The app-side package's version matrix (Python x Django) against its built wheel, each
# Python in a container of the test image that has it.
job_matrix() {
  bash scripts/package-matrix.sh
}

# The README's main job on the lab: lab up -> site.yml -> bench, the drills (the Valkey
# migration among them), a no-op rerun (changed=0), --check --diff (no change), lab down.
job_lab() {
  CW_LAB_E2E=1 pytest -q -s -p no:cacheprovider tests/test_lab_main_job.py
}

# What each job's log shows in the summary when it passed.
job_digest() {
  local log="$1"
  grep -E '(idempotence|verify).*Executed|^lab: |passed|failed|collection run|^Running sanity test|ansible-test sanity on|galaxy-importer:|^ +(cell|py[0-9.]+-django)' "${log}" | grep -v INFO \
    | sed 's/^/      /' | tail -n 40 || true
}

declare -a JOBS=()
add_job() { # add_job LABEL GROUP COMMAND...
  local IFS=$'\x1f'
  JOBS+=("$*")
}
# CW_SCENARIOS names cells (redis_sentinel:sentinel@trixie-valkey) or scenarios (all their cells).
wanted() {
  [ -z "${CW_SCENARIOS:-}" ] || [[ " ${CW_SCENARIOS} " == *" $1 "* || " ${CW_SCENARIOS} " == *" ${1%@*} "* ]]
}

# The matrix (molecule/matrix.txt): each scenario's cells, a release and flavour each, with
# the seconds a cell took (the queue's order: longest first).
declare -a CELLS=()
for file in roles/*/molecule/*/molecule.yml molecule/*/molecule.yml; do
  [ -f "${file}" ] || continue
  dir="$(dirname "$(dirname "$(dirname "${file}")")")"
  name="$(basename "$(dirname "${file}")")"
  label="$( [ "${dir}" = "." ] && echo "cachewright" || basename "${dir}"):${name}"
  grep -q "^${label} " molecule/matrix.txt || die "${label}: not in molecule/matrix.txt (each scenario's cells are listed there)"
  while read -r cell suite flavor seconds; do
    [ "${cell}" = "${label}" ] || continue
    cell="${label}$([ "${suite}" = - ] || echo "@${suite}-${flavor}")"
    wanted "${cell}" || continue
    CELLS+=("${seconds} ${cell} ${dir} ${name} ${suite} ${flavor}")
  done <molecule/matrix.txt
done
[ "${#CELLS[@]}" -gt 0 ] || [ -n "${CW_SCENARIOS:-}" ] || die "no Molecule scenario found"
estimate() { awk -v job="$1" '$1 == job { print $4 }' molecule/matrix.txt; }
[ "${CW_LAB:-1}" = 0 ] || CELLS+=("$(estimate lab) lab")
CELLS+=("$(estimate pytest) pytest")
[ "${CW_COLLECTION:-1}" = 0 ] || CELLS+=("$(estimate collection) collection")
[ "${CW_SANITY:-1}" = 0 ] || CELLS+=("$(estimate sanity) sanity")
[ "${CW_MATRIX:-1}" = 0 ] || CELLS+=("$(estimate matrix) matrix")
while read -r _ label dir name suite flavor; do
  case "${label}" in
    lab) add_job "lab main job (drills, migration, no-op, check)" lab job_lab ;;
    pytest) add_job "pytest" pytest job_pytest ;;
    collection) add_job "collection (built, installed, used)" collection job_collection ;;
    sanity) add_job "ansible-test sanity, galaxy-importer (the built collection)" sanity job_sanity ;;
    matrix) add_job "package matrix (cachewright-django wheel, Python x Django)" matrix job_matrix ;;
    *) add_job "molecule ${label}" "${label%@*}" job_scenario "${dir}" "${name}" "${suite}" "${flavor}" ;;
  esac
done < <(printf '%s\n' "${CELLS[@]}" | sort -rn)

QUEUE="${LOGS}/queue"
: >"${QUEUE}.busy"
: >"${QUEUE}.results"
rm -f "${QUEUE}.stop"
printf '%s\n' "${JOBS[@]}" >"${QUEUE}"

take_job() { # the first queued job whose group is not running; marks its group running
  local line group
  while IFS= read -r line; do
    group="$(cut -d $'\x1f' -f2 <<<"${line}")"
    if ! grep -qxF "${group}" "${QUEUE}.busy"; then
      echo "${group}" >>"${QUEUE}.busy"
      grep -vxF "${line}" "${QUEUE}" >"${QUEUE}.next" || true
      mv "${QUEUE}.next" "${QUEUE}"
      printf '%s' "${line}"
      return 0
    fi
  done <"${QUEUE}"
}

lane() {
  local lane="$1" job label group log t rc
  local -a command
  while :; do
    [ ! -e "${QUEUE}.stop" ] || return 0
    job="$(flock "${QUEUE}.lock" bash -c "$(declare -f take_job); QUEUE='${QUEUE}' take_job")"
    if [ -z "${job}" ]; then
      [ -s "${QUEUE}" ] || return 0
      sleep 2
      continue
    fi
    IFS=$'\x1f' read -r -a command <<<"${job}"
    label="${command[0]}" group="${command[1]}"
    command=("${command[@]:2}")
    log="${LOGS}/$(sed -e 's/ (.*//' -e 's/^molecule //' -e 's/[^A-Za-z0-9_.-]\+/-/g' <<<"${label}").log"
    info "lane ${lane}: ${label} (log ${log#"${CW_ROOT}/"})"
    t=$(now) rc=0
    "${command[@]}" >"${log}" 2>&1 || rc=$?
    flock "${QUEUE}.lock" sed -i "\|^${group}\$|d" "${QUEUE}.busy"
    printf '%s\x1f%s\x1f%s\x1f%s\n' "${label}" "$(( $(now) - t ))" "${rc}" "${log}" >>"${QUEUE}.results"
    if [ "${rc}" != 0 ]; then
      touch "${QUEUE}.stop"
      return 0
    fi
  done
}

step "Tests: pytest, the collection's run, the Molecule matrix, the lab (${CW_LANES:-2} at a time; logs .cache/logs/)"
T_JOBS=$(now)
for lane_number in $(seq 1 "${CW_LANES:-2}"); do
  lane "${lane_number}" &
done
wait
while IFS=$'\x1f' read -r label seconds rc log; do
  if [ "${rc}" = 0 ]; then
    PASSED=$((PASSED + 1))
    job_digest "${log}"
  else
    FAILED=$((FAILED + 1))
    printf '\n----- last 150 lines of %s -----\n' "${log#"${CW_ROOT}/"}"
    tail -n 150 "${log}"
  fi
  SUMMARY+=("$(printf '%-58s %5ss  %s' "${label}" "${seconds}" "$([ "${rc}" = 0 ] && echo ok || echo FAILED)")")
done <"${QUEUE}.results"
SUMMARY+=("$(printf '%-58s %5ss' "(the jobs above, ${CW_LANES:-2} at a time: wall time)" "$(( $(now) - T_JOBS ))")")
if [ -s "${QUEUE}" ]; then
  FAILED=$((FAILED + $(wc -l <"${QUEUE}")))
  while IFS=$'\x1f' read -r label _; do
    SUMMARY+=("$(printf '%-58s %5s   %s' "${label}" "-" "not run (stopped at the first failure)")")
  done <"${QUEUE}"
fi
[ "${FAILED}" = 0 ]
step "All checks passed"

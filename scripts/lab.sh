#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job (`make lab`): bring the lab containers up, run site.yml on inventories/lab,
# then the post-deploy benchmark, and say where the settings and the report are.
# `make lab-site` runs site.yml alone again (extra options pass through: --check --diff,
# --tags, --limit); `make lab-play PLAYBOOK=playbooks/rolling_restart.yml` runs another
# playbook on the lab the same way; `make lab-down` removes the lab.
# site.yml runs with Mitogen's strategy (plugins/strategy/mitogen_linear.py): one Python
# per container for the whole run instead of a `docker exec` per task; CW_MITOGEN=0 runs it
# with Ansible's own linear strategy.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "${CW_ROOT}"

action="${1:-up}"
inventory="${CW_INVENTORY:-inventories/lab}"

bash scripts/venv.sh
use_venv
bash scripts/docker-engine.sh
if [ "${CW_MITOGEN:-1}" != 0 ]; then
  export ANSIBLE_STRATEGY=mitogen_linear
fi

case "${action}" in
  up)
    step "Test images"
    bash scripts/images.sh
    step "Lab containers (molecule/shared/lab_up.yml)"
    ansible-playbook -i "${inventory}" molecule/shared/lab_up.yml
    step "site.yml on ${inventory}"
    t=$(now)
    ansible-playbook -i "${inventory}" site.yml "${@:2}"
    site_s=$(( $(now) - t ))
    step "The post-deploy benchmark (playbooks/bench.yml)"
    t=$(now)
    ansible-playbook -i "${inventory}" playbooks/bench.yml
    bench_s=$(( $(now) - t ))
    results="bench/results/$(basename "${inventory}")"
    report="$(ls -d "${results}"/*/ 2>/dev/null | sort | tail -n 1)report.html"
    step "Lab ready (site.yml ${site_s}s, bench ${bench_s}s)"
    info "containers: $(docker ps --filter label=cachewright.lab=true --format '{{.Names}}' | sort | paste -sd' ' -)"
    info "settings: /etc/cachewright/django/cache_settings.py on the app host"
    info "          (docker exec cw-lab-app-1 cat /etc/cachewright/django/cache_settings.py)"
    info "report: ${CW_ROOT}/${report}"
    info "shell on a host: docker exec -it cw-lab-mc-1 bash"
    info "remove the lab: make lab-down"
    ;;
  site)
    step "site.yml on ${inventory} (strategy ${ANSIBLE_STRATEGY:-linear})"
    t=$(now)
    ansible-playbook -i "${inventory}" site.yml "${@:2}"
    info "site.yml took $(( $(now) - t ))s"
    ;;
  play)
    [ -n "${2:-}" ] || die "usage: scripts/lab.sh play PLAYBOOK [ansible-playbook options]"
    step "${2} on ${inventory} (strategy ${ANSIBLE_STRATEGY:-linear})"
    t=$(now)
    ansible-playbook -i "${inventory}" "${@:2}"
    info "${2} took $(( $(now) - t ))s"
    ;;
  down)
    step "Removing the lab (molecule/shared/lab_down.yml)"
    ansible-playbook -i "${inventory}" molecule/shared/lab_down.yml
    ;;
  *)
    die "usage: scripts/lab.sh up|site|play PLAYBOOK|down [ansible-playbook options]"
    ;;
esac

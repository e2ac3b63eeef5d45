#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Write django_settings/<inventory>/<app host>/cache_settings.py: the settings module
# roles/django_cache generates for every app host of the shipped inventories (prod, staging,
# lab), rendered on the controller without reaching any host. The modules read passwords from
# files beside them, so they hold none. tests/test_django_cache_inventories.py renders them
# again and fails when these are stale: after a change to an inventory or the role, run
# `make django-settings` and review the diff.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_venv
cd "${CW_ROOT}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
for inventory in prod staging lab; do
  vault=()
  [ ! -f "inventories/${inventory}/vault-password.example" ] \
    || vault=(--vault-password-file "inventories/${inventory}/vault-password.example")
  mkdir -p "${work}/${inventory}"
  ANSIBLE_STDOUT_CALLBACK=ansible.builtin.minimal ansible-playbook -i "inventories/${inventory}" "${vault[@]}" \
    tests/playbooks/render_django_cache.yml -e "cw_out=${work}/${inventory}" >"${work}/${inventory}.log" 2>&1 \
    || { tail -n 40 "${work}/${inventory}.log"; die "rendering inventories/${inventory} failed"; }
  rm -rf "django_settings/${inventory}"
  for module in "${work}/${inventory}"/*.py; do
    host="$(basename "${module}" .py)"
    mkdir -p "django_settings/${inventory}/${host}"
    cp "${module}" "django_settings/${inventory}/${host}/cache_settings.py"
    chmod 0644 "django_settings/${inventory}/${host}/cache_settings.py"
  done
  info "django_settings/${inventory}: $(ls "django_settings/${inventory}" | tr '\n' ' ')"
done

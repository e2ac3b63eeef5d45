#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Write roles/django_cache/files/app-requirements.txt from requirements.txt: the pins of
# every package roles/django_cache may install in an app's virtualenv, so the app hosts get
# the versions the tests ran with and the role reads nothing outside its own folder.
# scripts/lock.sh runs it after every re-pin; tests/test_django_cache_pins.py checks both agree.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# Django and the clients the role always installs, then what aliases may ask for
# (pylibmc, django-redis compressors and serializers).
packages=(Django asgiref sqlparse django-redis redis hiredis pymemcache pylibmc lz4 msgpack pyzstd)
out="${CW_ROOT}/roles/django_cache/files/app-requirements.txt"
{
  echo "# Versions roles/django_cache installs in the app's virtualenv: the kit's requirements.txt pins,"
  echo "# written by scripts/app-pins.sh (make lock). Do not edit by hand."
  for name in "${packages[@]}"; do
    grep -i "^${name}==" "${CW_ROOT}/requirements.txt" || die "requirements.txt has no pin for ${name}"
  done
} >"${out}"
info "${out#"${CW_ROOT}/"} written"

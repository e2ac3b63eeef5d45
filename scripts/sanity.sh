#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ansible-test sanity on the collection as it ships: the tarball `ansible-galaxy collection
# build` makes, unpacked under <tmp>/ansible_collections/cachewright/cache, every sanity test
# with the ignores the collection ships (tests/sanity/ignore-<ansible-core>.txt).
# ansible-test installs each test's requirements in virtualenvs of its own (~/.ansible/test/venv).
# It bootstraps pip in them with a script it downloads from ci-files.testing.ansible.com, which
# this workplace cannot reach: scripts/get_pip_offline.py stands in for it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_venv
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
ansible-galaxy collection build --force --output-path "${work}" "${CW_ROOT}" >/dev/null
content="${work}/ansible_collections/cachewright/cache"
mkdir -p "${content}"
tar -xzf "${work}"/cachewright-cache-*.tar.gz -C "${content}"
pip_version="$(python - <<'PY'
import re
from pathlib import Path
import ansible_test
source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", source).group(1))
PY
)"
bootstrap="${HOME}/.ansible/test/cache/get_pip_${pip_version//./_}.py"
# ansible-test uses a bootstrap script already in its cache; the stand-in is put there only
# when none is (this machine never asks ci-files.testing.ansible.com).
[ -f "${bootstrap}" ] || { mkdir -p "$(dirname "${bootstrap}")"; cp "${CW_ROOT}/scripts/get_pip_offline.py" "${bootstrap}"; }
python_version="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
cd "${content}"
info "ansible-test sanity on $(ls "${work}"/cachewright-cache-*.tar.gz | xargs -n1 basename), Python ${python_version}"
ansible-test sanity --local --python "${python_version}" --requirements --color no

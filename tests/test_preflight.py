# SPDX-License-Identifier: Apache-2.0
"""playbooks/preflight.yml: a run whose servers would stop speaking what an app alias's
client speaks is refused on the app host before the first server play changes anything (the
lab's inventory; no host is reached)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", re.MULTILINE)


@pytest.mark.parametrize("playbook", ["site.yml", "playbooks/memcached.yml"])
def test_memcached_tls_for_a_pylibmc_alias_is_refused_before_any_server_changes(playbook: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "inventories/lab", playbook,
         "-e", "memcached_tls=true"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    assert done.returncode != 0, done.stdout[-2000:]
    assert "alias 'libmc': instance 'sessions' uses TLS, which pylibmc lacks" in done.stdout, done.stdout[
        -2000:
    ]
    touched = dict(RECAP.findall(done.stdout))
    assert list(touched) == ["cw-lab-app-1"] and touched["cw-lab-app-1"] == "0", done.stdout[-2000:]

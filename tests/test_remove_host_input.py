# SPDX-License-Identifier: Apache-2.0
"""playbooks/remove_redis_host.yml and remove_memcached_host.yml refuse a host they cannot
take out before anything changes, naming the variable (the lab's inventory, no host reached)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", re.MULTILINE)


@pytest.mark.parametrize(
    ("playbook", "variable", "value"),
    [
        ("remove_redis_host.yml", "redis_remove_host", "cw-lab-mc-1"),
        ("remove_redis_host.yml", "redis_remove_host", "cw-lab-redis-1"),
        ("remove_memcached_host.yml", "memcached_remove_host", "cw-lab-redis-1"),
        ("remove_memcached_host.yml", "memcached_remove_host", ""),
    ],
)
def test_a_host_that_cannot_leave_is_refused_before_any_change(
    playbook: str, variable: str, value: str
) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "inventories/lab",
         f"playbooks/{playbook}", "-e", f"{variable}={value}"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    assert done.returncode != 0, done.stdout[-2000:]
    assert f"{variable}: " in done.stdout, done.stdout[-2000:]
    assert all(changed == "0" for _, changed in RECAP.findall(done.stdout)), done.stdout[-2000:]

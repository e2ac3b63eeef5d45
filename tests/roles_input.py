# SPDX-License-Identifier: Apache-2.0
"""Run a role against the local machine in check mode, to see how it treats bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_role_check(role: str, role_vars: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """ansible-playbook --check of `role` on localhost with `role_vars`; returns the run."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        f"- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles:\n    - role: {role}\n",
        encoding="utf-8",
    )
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps(role_vars), encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
    }
    ansible_playbook = Path(sys.executable).with_name("ansible-playbook")
    return subprocess.run(
        [
            str(ansible_playbook),
            "-i",
            "localhost,",
            "--check",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-e",
            f"@{variables}",
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=300,
    )

# SPDX-License-Identifier: Apache-2.0
"""roles/memcached refuses bad input before it changes anything, naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roles_input import run_role_check

CASES: list[tuple[dict[str, Any], str]] = [
    (
        {"memcached_instances": [{"name": "a", "port": 11311}, {"name": "b", "port": 11311}]},
        "memcached_instances[1].port: 11311 is already used",
    ),
    (
        {"memcached_instances": [{"name": "a", "port": 11311, "memory_mb": 0}]},
        "memcached_instances[0].memory_mb",
    ),
    (
        {"memcached_instances": [{"name": "a", "port": 11311, "memory_mb": 10_000_000}]},
        "more than this host's",
    ),
    ({"memcached_tls": True}, "memcached_tls_certificate: required because TLS is on"),
    ({"memcached_sasl": True}, "memcached_sasl_users: SASL is on but no user"),
    ({"memcached_instances": [{"name": "a", "port": "eleven"}]}, "port"),
    (
        {"memcached_firewall": True, "memcached_firewall_clients": ["10.0.0.0/33"]},
        "memcached_firewall_clients: '10.0.0.0/33' is not a host name, an address or a network",
    ),
    (
        # An argument this machine's memcached refuses, read by it before any file is written.
        {"memcached_instances": [{"name": "a", "port": 11311, "extra_args": ["-o", "no_such_option"]}]},
        'memcached_instances[0].extra_args: memcached refuses ["-o", "no_such_option"]: Illegal suboption',
    ),
]


@pytest.mark.parametrize(("role_vars", "message"), CASES)
def test_bad_input_fails_before_any_change(role_vars: dict[str, Any], message: str, tmp_path: Path) -> None:
    run = run_role_check("memcached", role_vars, tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert message in output, output
    assert "changed=0" in output, output

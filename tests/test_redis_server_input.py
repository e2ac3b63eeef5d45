# SPDX-License-Identifier: Apache-2.0
"""roles/redis_server refuses bad input before it changes anything, naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roles_input import run_role_check

BASE = {"redis_server_admin_password": "test-only-admin-password"}
CASES: list[tuple[dict[str, Any], str]] = [
    (
        {"redis_server_instances": [{"name": "a", "port": 6390}, {"name": "b", "port": 6390}]},
        "redis_server_instances[1].port: 6390 is already used",
    ),
    (
        {
            "redis_server_instances": [
                {"name": "a", "port": 6390, "replicaof": {"host": "localhost", "instance": "a"}}
            ]
        },
        "cannot replicate itself",
    ),
    (
        {
            "redis_server_instances": [
                {"name": "a", "port": 6390, "replicaof": {"host": "elsewhere", "instance": "a"}}
            ]
        },
        "'elsewhere' is not in the inventory",
    ),
    ({"redis_server_tls": True}, "redis_server_tls_certificate: required"),
    (
        {"redis_server_users": [{"name": "app user", "password": "x", "keys": ["app:*"]}]},
        "redis_server_users[0].name",
    ),
    (
        {"redis_server_users": [{"name": "app", "password": "", "keys": ["app:*"]}]},
        "redis_server_users[0].password",
    ),
    (
        {"redis_server_instances": [{"name": "a", "port": 6390, "maxmemory_mb": 10_000_000}]},
        "more than this host's",
    ),
    (
        {"redis_server_instances": [{"name": "a", "port": 6390, "maxmemory_policy": "sometimes"}]},
        "is not an eviction policy",
    ),
    (
        {"redis_server_extra_config": {"requirepass": "opened", "rename-command": "CONFIG ''"}},
        "redis_server_extra_config.requirepass: set by the role",
    ),
    (
        # A value this machine's redis-server refuses, read by it before any file is written.
        {"redis_server_extra_config": {"latency-monitor-threshold": "soon"}},
        "redis_server_extra_config (instance cache): redis-server refuses it: 'latency-monitor-threshold",
    ),
    (
        # This machine runs Debian 12, whose Valkey is in bookworm-backports only.
        {"redis_server_flavor": "valkey"},
        "redis_server_flavor: valkey: Debian 12 has valkey-server only in bookworm-backports",
    ),
    ({"redis_server_flavor": "keydb"}, "redis_server_flavor must be one of: redis, valkey"),
]


@pytest.mark.parametrize(("role_vars", "message"), CASES)
def test_bad_input_fails_before_any_change(role_vars: dict[str, Any], message: str, tmp_path: Path) -> None:
    run = run_role_check("redis_server", {**BASE, **role_vars}, tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert message in output, output
    assert "changed=0" in output, output

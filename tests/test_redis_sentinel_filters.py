# SPDX-License-Identifier: Apache-2.0
"""plugins/plugin_utils/redis_sentinel_input.py."""

from __future__ import annotations

from typing import Any

from conftest import load_plugin

rsm = load_plugin("plugins/plugin_utils/redis_sentinel_input.py")

SETTINGS: dict[str, Any] = {
    "redis_sentinel_password": "test-only-sentinel-password",
    "redis_sentinel_auth_password": "test-only-sentinel-auth",
    "redis_sentinel_quorum": 2,
    "redis_sentinel_down_after_milliseconds": 5000,
    "redis_sentinel_failover_timeout": 60000,
    "redis_sentinel_parallel_syncs": 1,
}
HOSTVARS = {
    "r1": {
        "redis_server_instances": [{"name": "cache", "port": 6379}],
        "ansible_facts": {"default_ipv4": {"address": "10.0.0.1"}},
    },
    "r2": {"redis_server_instances": [{"name": "cache", "port": 6379}], "redis_server_address": "10.9.9.9"},
}
MONITOR = {"name": "cache", "host": "r1", "instance": "cache"}


def test_effective_monitor_has_primary_address_port_and_defaults() -> None:
    (eff,) = rsm.redis_sentinel_effective([{**MONITOR, "quorum": 3}], SETTINGS, HOSTVARS)
    assert (eff["address"], eff["port"], eff["quorum"], eff["down_after_milliseconds"]) == (
        "10.0.0.1",
        6379,
        3,
        5000,
    )
    (other,) = rsm.redis_sentinel_effective([{**MONITOR, "host": "r2"}], SETTINGS, HOSTVARS)
    assert other["address"] == "10.9.9.9"


def test_problems() -> None:
    assert rsm.redis_sentinel_problems([MONITOR], SETTINGS, HOSTVARS, 3) == []
    found = rsm.redis_sentinel_problems(
        [MONITOR, MONITOR, {**MONITOR, "name": "x", "host": "r9"}, {**MONITOR, "name": "y", "instance": "z"}],
        {**SETTINGS, "redis_sentinel_password": ""},
        HOSTVARS,
        2,
    )
    text = "\n".join(found)
    for expected in (
        "redis_sentinel_password: required",
        "at least 3 are needed",
        "redis_sentinel_monitors[1].name: 'cache' is monitored twice",
        "redis_sentinel_monitors[2].host: 'r9' is not in the inventory",
        "redis_sentinel_monitors[3].instance",
    ):
        assert expected in text, text


def test_timings_are_bounded_and_named() -> None:
    found = rsm.redis_sentinel_problems(
        [{**MONITOR, "down_after_milliseconds": -1, "failover_timeout": "soon", "parallel_syncs": 0}],
        {**SETTINGS, "redis_sentinel_down_after_milliseconds": -5000, "redis_sentinel_quorum": "two"},
        HOSTVARS,
        3,
    )
    assert found == [
        "redis_sentinel_monitors[0].quorum: 'two' is not between 1 and the 3 Sentinels",
        "redis_sentinel_monitors[0].down_after_milliseconds: -1 is not an integer from 100 to 2147483647",
        "redis_sentinel_monitors[0].failover_timeout: 'soon' is not an integer from 1000 to 2147483647",
        "redis_sentinel_monitors[0].parallel_syncs: 0 is not an integer from 1 to 1000",
        "redis_sentinel_down_after_milliseconds: -5000 is not an integer from 100 to 2147483647",
    ]

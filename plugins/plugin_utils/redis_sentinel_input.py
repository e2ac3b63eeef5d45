# SPDX-License-Identifier: Apache-2.0
"""Filters of roles/redis_sentinel: each monitor's settings and primary, input problems.

Tested by tests/test_redis_sentinel_filters.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.model import (
    password_problem,
    peer_address,
    redis_instance_of,
    unique_name_problem,
)

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The timings' bounds: Sentinel takes 1 ms to 2^31 - 1 ms, and one replica or more at a time.
TIMINGS = {
    "down_after_milliseconds": (100, 2**31 - 1),
    "failover_timeout": (1000, 2**31 - 1),
    "parallel_syncs": (1, 1000),
}
TUNABLES = {
    "quorum": "redis_sentinel_quorum",
    "down_after_milliseconds": "redis_sentinel_down_after_milliseconds",
    "failover_timeout": "redis_sentinel_failover_timeout",
    "parallel_syncs": "redis_sentinel_parallel_syncs",
}


def redis_sentinel_effective(
    monitors: list[dict[str, Any]], settings: dict[str, Any], hostvars: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every monitor with its tunables and the address and port of its primary."""
    result = []
    for monitor in monitors:
        instance = redis_instance_of(hostvars, monitor["host"], monitor["instance"]) or {}
        effective = {
            "name": monitor["name"],
            "host": monitor["host"],
            "instance": monitor["instance"],
            "address": peer_address(hostvars.get(monitor["host"], {}), monitor["host"]),
            "port": int(instance.get("port", 0)),
        }
        for key, var in TUNABLES.items():
            value = monitor.get(key)
            effective[key] = int(settings[var] if value is None else value)
        result.append(effective)
    return result


def redis_sentinel_problems(
    monitors: list[dict[str, Any]], settings: dict[str, Any], hostvars: Mapping[str, Any], sentinels: int
) -> list[str]:
    """Every problem of the input, naming the variable; [] when all is well."""
    problems = []
    if not settings["redis_sentinel_password"]:
        problems.append("redis_sentinel_password: required (clients and the other Sentinels log in with it)")
    if not settings["redis_sentinel_auth_password"]:
        problems.append(
            "redis_sentinel_auth_password: required (set redis_server_sentinel_password, so that the "
            "Redis instances have Sentinel's user)"
        )
    problems += [
        problem
        for var in ("redis_sentinel_password", "redis_sentinel_auth_password")
        if settings[var] and (problem := password_problem(var, settings[var]))
    ]
    if sentinels < 3:
        problems.append(f"redis_sentinel: {sentinels} Sentinel host(s) in the play; at least 3 are needed")
    seen: set[str] = set()
    for index, monitor in enumerate(monitors):
        where = f"redis_sentinel_monitors[{index}]"
        name = monitor.get("name")
        if problem := unique_name_problem(
            where, name, NAME_RE, seen, kind="master name", again="is monitored twice"
        ):
            problems.append(problem)
        problems += _monitor_problems(where, monitor, settings, hostvars, sentinels)
    for key, (low, high) in TIMINGS.items():
        var = TUNABLES[key]
        if not low <= _integer(settings[var], low - 1) <= high:
            problems.append(f"{var}: {settings[var]!r} is not an integer from {low} to {high}")
    return problems


def _monitor_problems(
    where: str, monitor: dict[str, Any], settings: dict[str, Any], hostvars: Mapping[str, Any], sentinels: int
) -> list[str]:
    """A monitor's primary, quorum and timings."""
    problems = []
    if monitor.get("host") not in hostvars:
        problems.append(f"{where}.host: {monitor.get('host')!r} is not in the inventory")
    elif redis_instance_of(hostvars, monitor["host"], monitor.get("instance", "")) is None:
        host, instance = monitor["host"], monitor.get("instance")
        problems.append(f"{where}.instance: host {host!r} has no redis_server instance {instance!r}")
    quorum = monitor.get("quorum") or settings["redis_sentinel_quorum"]
    if not 1 <= _integer(quorum, 0) <= max(sentinels, 1):
        problems.append(f"{where}.quorum: {quorum!r} is not between 1 and the {sentinels} Sentinels")
    for key, (low, high) in TIMINGS.items():
        if monitor.get(key) is not None and not low <= _integer(monitor[key], low - 1) <= high:
            problems.append(f"{where}.{key}: {monitor[key]!r} is not an integer from {low} to {high}")
    return problems


def _integer(value: Any, otherwise: int) -> int:
    """The value as an int (as Ansible passes it: int or digits), else `otherwise`."""
    if isinstance(value, bool):
        return otherwise
    try:
        return int(value)
    except (TypeError, ValueError):
        return otherwise

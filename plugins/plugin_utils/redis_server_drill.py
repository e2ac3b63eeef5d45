# SPDX-License-Identifier: Apache-2.0
"""The order roles/redis_server restarts hosts in, and its failover drill: the primaries to
fail over and the report an operator reads.

Tested by tests/test_redis_server_filters.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def redis_server_restart_order(hostvars: Mapping[str, Any], hosts: list[str]) -> list[str]:
    """The hosts with instances to restart, those holding the fewest primaries first.

    Each host's __redis_server_restart names its instances to restart and
    __redis_server_restart_state is what redis_instances (state=info) read of
    them. Replicas are restarted before the primaries they follow, and a primary hands its
    role to a replica already restarted.
    """
    pending = []
    for order, host in enumerate(hosts):
        names = hostvars[host].get("__redis_server_restart") or []
        if not names:
            continue
        read = (hostvars[host].get("__redis_server_restart_state") or {}).get("instances") or {}
        primaries = sum(1 for name in names if (read.get(name) or {}).get("role") == "primary")
        pending.append((primaries, order, host))
    return [host for _unused, _unused, host in sorted(pending)]


def redis_server_drill_order(hosts: list[str], hostvars: Mapping[str, Any]) -> list[list[str]]:
    """[host, instance] of every primary to fail over in the drill, host by host."""
    return [
        [host, name]
        for host in hosts
        for name in (hostvars[host].get("__redis_server_drill") or {}).get("primaries", [])
    ]


def redis_server_drill_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """One fail-over of the drill (a registered redis_failover loop result; a
    put-back's item is the fail-over's result)."""
    item = result["item"]
    host, instance = (item["item"] if isinstance(item, Mapping) else item)[:2]
    return {
        "host": host,
        "instance": instance,
        "done": bool(result.get("changed")) and not result.get("failed"),
        **{
            key: result.get(key)
            for key in ("group", "via", "old", "new", "held_seconds", "refused_seconds", "seconds")
        },
        **({"error": result.get("msg")} if result.get("failed") else {}),
    }


def redis_server_drill_report(
    failovers: list[Mapping[str, Any]], put_back: list[Mapping[str, Any]]
) -> list[str]:
    """The drill as lines an operator reads: one per fail-over and put-back."""

    def line(row: dict[str, Any], verb: str) -> str:
        if "error" in row:
            return f"{row['host']} {row['instance']}: {verb} FAILED: {row['error']}"
        return (
            f"{row['group']} ({row['via']}): {row['old']} -> {row['new']}, "
            f"writes held {row['held_seconds']} s, "
            f"a client refused for at most {row['refused_seconds']} s, all gates passed in {row['seconds']} s"
        )

    rows = [line(redis_server_drill_row(r), "fail-over") for r in failovers if "item" in r]
    rows += [
        f"put back: {line(redis_server_drill_row(r), 'put-back')}"
        for r in put_back
        if r.get("changed") or r.get("failed")
    ]
    return rows or ["no primary to fail over"]

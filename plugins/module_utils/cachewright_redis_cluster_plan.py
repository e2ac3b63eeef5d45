"""Filters of roles/redis_cluster: read CLUSTER INFO / CLUSTER NODES, decide what to do.

Tested by tests/test_redis_cluster_filters.py.
"""

from __future__ import annotations

import re
from typing import Any


def redis_cluster_node_state(result: dict[str, Any]) -> dict[str, Any]:
    """One node ({name, address, port}) with slots/known/state from its CLUSTER INFO."""
    text = result.get("stdout", "")

    def field(name: str, default: str = "0") -> str:
        match = re.search(rf"^{name}:(\S+)", text, re.MULTILINE)
        return match.group(1) if match else default

    return {
        **result["item"],
        "slots": int(field("cluster_slots_assigned")),
        "known": int(field("cluster_known_nodes")),
        "state": field("cluster_state", "unknown"),
    }


def redis_cluster_plan(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """What to do with these nodes: form a new cluster, or add the nodes not yet in it.

    A node that knows other nodes or serves slots is in the cluster. If none is, the
    cluster is formed from all of them; otherwise the lone nodes join it through `seed`.
    """
    members = [n for n in nodes if n["known"] > 1 or n["slots"] > 0]
    loners = [n for n in nodes if n not in members]
    return {
        "create": not members,
        "seed": (members or nodes)[0] if nodes else None,
        "add": loners if members else [],
        "endpoints": [f"{n['address']}:{n['port']}" for n in nodes],
    }


def redis_cluster_colocated(cluster_nodes: str) -> list[str]:
    """Replicas that run on the same address as their primary, from CLUSTER NODES output."""
    by_id: dict[str, str] = {}
    replicas: list[tuple[str, str, str]] = []
    for line in cluster_nodes.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        node_id, address, flags, primary_id = parts[0], parts[1].split("@")[0], parts[2], parts[3]
        by_id[node_id] = address
        if "slave" in flags.split(","):
            replicas.append((node_id, address, primary_id))
    return [
        f"replica {address} runs on the same host as its primary {by_id[primary]}"
        for _, address, primary in replicas
        if primary in by_id and address.rsplit(":", 1)[0] == by_id[primary].rsplit(":", 1)[0]
    ]

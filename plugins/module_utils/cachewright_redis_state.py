"""Read -> compare -> plan for Redis run-time state: replication, Sentinel monitors, cluster.

Pure functions over what the servers answer (dicts from redis-py, CLUSTER NODES text);
the modules cachewright_redis_replication, cachewright_redis_sentinel_monitors and
cachewright_redis_cluster read, call these to decide, and apply. Tested without servers
by tests/test_redis_state.py, and against live ones by tests/test_redis_state_live.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# -- replication ---------------------------------------------------------------------


def wanted_primary(
    replicaof: Mapping[str, Any] | None, primaries: Mapping[str, Any], tls_port_first: bool
) -> tuple[str, int] | None:
    """The address and port an instance should replicate from, or None for a primary.

    replicaof is the inventory's {host, instance}; primaries maps each such host to
    {address, ports: {instance: port}, tls_ports: {instance: tls_port}}. With the plain
    port kept beside TLS (tls_port_first), replication still goes over TLS: the tls_port.
    """
    if not replicaof:
        return None
    host = primaries.get(replicaof["host"]) or {}
    ports = host.get("tls_ports" if tls_port_first else "ports") or {}
    return str(host.get("address") or replicaof["host"]), int(ports.get(replicaof["instance"]) or 0)


def replication_state(info: Mapping[str, Any]) -> dict[str, Any]:
    """The part of INFO replication that says whom an instance follows."""
    if info.get("role") == "slave":
        return {
            "role": "replica",
            "primary": f"{info.get('master_host')}:{info.get('master_port')}",
            "link": str(info.get("master_link_status", "down")),
        }
    return {"role": "primary", "primary": None, "link": None}


def describe_replication(state: Mapping[str, Any] | None) -> str:
    """One line for the diff."""
    if state is None:
        return "not running"
    if state["role"] == "replica":
        return f"replica of {state['primary']} (link {state['link']})"
    return "primary"


def replication_command(
    state: Mapping[str, Any], wanted: tuple[str, int] | None, managed_by: str, marked: bool
) -> list[str]:
    """The REPLICAOF arguments that bring the instance to `wanted`; [] when nothing is to do.

    With managed_by `sentinel`, only a replica not yet pointed once (no marker) is
    pointed; afterwards its primary, and a primary's role, are Sentinel's to decide.
    """
    if managed_by != "ansible" and (wanted is None or marked):
        return []
    if wanted is None:
        return [] if state["role"] == "primary" else ["NO", "ONE"]
    if state["role"] == "replica" and state["primary"] == f"{wanted[0]}:{wanted[1]}":
        return []
    return [wanted[0], str(wanted[1])]


# -- Sentinel monitors ----------------------------------------------------------------

# The tunables the module keeps as the inventory says, by their Sentinel name.
SENTINEL_TUNABLES = {
    "quorum": "quorum",
    "down_after_milliseconds": "down-after-milliseconds",
    "failover_timeout": "failover-timeout",
    "parallel_syncs": "parallel-syncs",
}
SECRET_FIELDS = {"auth-pass"}


def sentinel_fields(reply: Any) -> dict[str, str]:
    """SENTINEL MASTER's reply (a flat field/value list, or a dict) as a dict of strings."""
    pairs = reply.items() if isinstance(reply, Mapping) else zip(reply[0::2], reply[1::2], strict=False)
    return {str(key): str(value) for key, value in pairs}


def monitor_plan(
    wanted: Mapping[str, Any], known: Mapping[str, str] | None, auth_user: str, auth_password: str
) -> dict[str, Any]:
    """What to send Sentinel for one wanted monitor, given what SENTINEL MASTER said (None
    when Sentinel does not know the primary).

    A new monitor is added (SENTINEL MONITOR, at the inventory's primary) and gets every
    tunable and Sentinel's credentials. A known one keeps the primary Sentinel follows
    (a failover may have moved it) and gets only the tunables that differ.
    """
    monitor: list[str] = []
    settings: list[str] = []
    if known is None:
        monitor = [wanted["name"], str(wanted["address"]), str(wanted["port"]), str(wanted["quorum"])]
    for key, field in SENTINEL_TUNABLES.items():
        # SENTINEL MONITOR sets a new monitor's quorum.
        if known is None and key == "quorum":
            continue
        if known is None or known.get(field) != str(wanted[key]):
            settings += [field, str(wanted[key])]
    if known is None and auth_password:
        settings += (["auth-user", auth_user] if auth_user else []) + ["auth-pass", auth_password]
    return {"monitor": monitor, "set": settings}


def describe_monitor(wanted: Mapping[str, Any], fields: Mapping[str, str] | None) -> str:
    """One line for the diff: address and tunables, never a password."""
    if fields is None:
        return "not monitored"
    tunables = " ".join(f"{f}={fields.get(f, '?')}" for f in SENTINEL_TUNABLES.values())
    return f"{fields.get('ip')}:{fields.get('port')} {tunables}"


def monitor_after(wanted: Mapping[str, Any], known: Mapping[str, str] | None) -> dict[str, str]:
    """What SENTINEL MASTER will say once the plan is applied (for the diff)."""
    after = dict(known or {"ip": str(wanted["address"]), "port": str(wanted["port"])})
    for key, field in SENTINEL_TUNABLES.items():
        after[field] = str(wanted[key])
    return after


def safe_args(args: list[str]) -> list[str]:
    """SENTINEL SET arguments with the value of every secret field hidden."""
    return [
        "********" if index and args[index - 1] in SECRET_FIELDS else arg for index, arg in enumerate(args)
    ]


# -- cluster ---------------------------------------------------------------------------


def info_fields(reply: Any) -> dict[str, str]:
    """CLUSTER INFO's reply (text of field:value lines, or a parsed dict) as a dict of strings."""
    if isinstance(reply, Mapping):
        return {str(k): str(v) for k, v in reply.items()}
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    return dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)


def cluster_node_state(node: Mapping[str, Any], info: Mapping[str, Any] | None) -> dict[str, Any]:
    """A node ({address, port, ...}) with slots/known/state from its CLUSTER INFO (None:
    it did not answer)."""
    info = info or {}
    return {
        **node,
        "slots": int(info.get("cluster_slots_assigned", 0)),
        "known": int(info.get("cluster_known_nodes", 0)),
        "state": str(info.get("cluster_state", "unknown")),
    }


def endpoint(node: Mapping[str, Any]) -> str:
    return f"{node['address']}:{node['port']}"


def cluster_plan(nodes: list[dict[str, Any]]) -> dict[str, Any]:
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
        "endpoints": [endpoint(n) for n in nodes],
    }


def cluster_rows(cluster_nodes: str) -> list[dict[str, Any]]:
    """CLUSTER NODES as rows: id, address (host:port), flags, primary id, slot count."""
    rows = []
    for line in cluster_nodes.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        slots = 0
        for span in parts[8:]:
            if span.startswith("["):  # a slot being migrated or imported
                continue
            low, _, high = span.partition("-")
            slots += int(high or low) - int(low) + 1
        rows.append(
            {
                "id": parts[0],
                "address": parts[1].split("@")[0],
                "flags": set(parts[2].split(",")),
                "primary_id": parts[3],
                "slots": slots,
            }
        )
    return rows


def cluster_colocated(cluster_nodes: str) -> list[str]:
    """Replicas that run on the same address as their primary, from CLUSTER NODES."""
    rows = cluster_rows(cluster_nodes)
    by_id = {row["id"]: row["address"] for row in rows}
    return [
        f"replica {row['address']} runs on the same host as its primary {by_id[row['primary_id']]}"
        for row in rows
        if "slave" in row["flags"]
        and row["primary_id"] in by_id
        and row["address"].rsplit(":", 1)[0] == by_id[row["primary_id"]].rsplit(":", 1)[0]
    ]


# redis-cli --cluster rebalance moves nothing while every primary is within 2 % of its share.
REBALANCE_THRESHOLD_PERCENT = 2.0


def rebalance_needed(cluster_nodes: str) -> bool:
    """Whether `redis-cli --cluster rebalance --cluster-use-empty-masters` would move slots:
    as redis-cli measures it, a primary whose slot count is off its even share (rounded
    down) by more than the threshold, or that serves none."""
    primaries = [
        row["slots"]
        for row in cluster_rows(cluster_nodes)
        if "master" in row["flags"] and not {"fail", "noaddr", "handshake"} & row["flags"]
    ]
    if not primaries:
        return False
    share = sum(primaries) // len(primaries)
    return any(
        slots == 0 or abs(100 - 100.0 * share / slots) > REBALANCE_THRESHOLD_PERCENT for slots in primaries
    )

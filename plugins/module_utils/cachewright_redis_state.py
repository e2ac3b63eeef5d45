# SPDX-License-Identifier: Apache-2.0
"""Read -> compare -> plan for Redis run-time state: replication, Sentinel monitors, cluster.

The reads of what a Sentinel knows (redis_sentinel, redis_sentinel_info), then pure
functions over what the servers answer (dicts from redis-py, CLUSTER NODES text);
the modules redis_replication, redis_sentinel_monitors and
redis_cluster read, call these to decide, and apply. Tested without servers
by tests/test_redis_state.py, and against live ones by tests/test_redis_state_live.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

# -- what a Sentinel answers ------------------------------------------------------


def fields_of(row: Any) -> dict[str, Any]:
    """One row of a SENTINEL reply (a flat list, or a dict with RESP3) as a dict."""
    return dict(zip(row[0::2], row[1::2])) if isinstance(row, list) else dict(row)


def peers_answered(client: Any, name: str) -> list[int]:
    """Milliseconds since each other Sentinel of `name` last answered this one's PING."""
    return [
        int(fields_of(row)["last-ok-ping-reply"])
        for row in client.execute_command("SENTINEL", "SENTINELS", name)
    ]


def masters(client: Any) -> dict[str, dict[str, Any]]:
    """What the Sentinel knows of each primary it watches."""
    known = {}
    for row in client.execute_command("SENTINEL", "MASTERS"):
        fields = fields_of(row)
        known[fields["name"]] = {
            "address": f"{fields['ip']}:{fields['port']}",
            "flags": fields["flags"],
            "replicas": int(fields["num-slaves"]),
            "other_sentinels": int(fields["num-other-sentinels"]),
        }
    return known


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
    pairs = reply.items() if isinstance(reply, Mapping) else zip(reply[0::2], reply[1::2])
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


def sentinel_ghosts(
    replicas: list[Mapping[str, Any]], sentinels: list[Mapping[str, Any]], gone: Collection[str] = ()
) -> list[str]:
    """The replicas and Sentinels a Sentinel lists for one primary (SENTINEL REPLICAS and
    SENTINELS, as field dicts) that it finds down (s_down), or that run on an address of
    `gone` (a host taken out): a host that died, or came back under another address, stays
    listed until SENTINEL RESET."""
    return [
        f"{kind} {row.get('ip')}:{row.get('port')}"
        for kind, rows in (("replica", replicas), ("sentinel", sentinels))
        for row in rows
        if "s_down" in str(row.get("flags", "")).split(",") or row.get("ip") in gone
    ]


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


# Flags of a node the others no longer reach: gone for good (fail, noaddr) or maybe (fail?),
# or not yet met (handshake).
DOWN_FLAGS = frozenset({"fail", "fail?", "noaddr", "handshake"})


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
            low, _unused, high = span.partition("-")
            slots += int(high or low) - int(low) + 1
        rows.append(
            {
                "id": parts[0],
                "address": parts[1].split("@")[0],
                "flags": set(parts[2].split(",")),
                "primary_id": parts[3],
                "link": parts[7],
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


def empty_primaries(cluster_nodes: str) -> list[str]:
    """Reachable primaries that serve no slot (host:port): capacity nobody uses."""
    return [
        row["address"]
        for row in cluster_rows(cluster_nodes)
        if "master" in row["flags"] and not row["slots"] and not DOWN_FLAGS & row["flags"]
    ]


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


def host_of(address: str) -> str:
    return address.rsplit(":", 1)[0]


def cluster_ghosts(cluster_nodes: str, answering: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """Nodes the cluster still lists but that are gone for good.

    `answering` maps each node of the inventory (host:port) to the node ID it answers with
    now (None: it does not answer). A ghost is failed (fail or noaddr), serves no slot, and
    is either at no address of the inventory or at one that another node answers now (the
    host came back empty: a new node ID). A failed node that may still come back at its own
    address is kept."""
    return [
        {"id": row["id"], "address": row["address"]}
        for row in cluster_rows(cluster_nodes)
        if {"fail", "noaddr"} & row["flags"]
        and row["slots"] == 0
        and (row["address"] not in answering or answering[row["address"]] not in (None, row["id"]))
    ]


def primaries_by_host(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many slot-serving primaries each host of the cluster runs (hosts with none: 0)."""
    counts = {host_of(row["address"]): 0 for row in rows if not DOWN_FLAGS & row["flags"]}
    for row in rows:
        if "master" in row["flags"] and row["slots"] and not DOWN_FLAGS & row["flags"]:
            counts[host_of(row["address"])] += 1
    return counts


def placement_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the primaries sit, and whether losing any one host keeps the cluster serving:
    a majority of primaries left, and a replica on another host for every shard it held."""
    counts = primaries_by_host(rows)
    total = sum(counts.values())
    by_id = {row["id"]: row for row in rows}
    covered = {
        row["primary_id"]
        for row in rows
        if "slave" in row["flags"]
        and not DOWN_FLAGS & row["flags"]
        and row["primary_id"] in by_id
        and host_of(row["address"]) != host_of(by_id[row["primary_id"]]["address"])
    }
    unprotected = sorted(
        row["address"]
        for row in rows
        if "master" in row["flags"] and row["slots"] and not DOWN_FLAGS & row["flags"]
        and row["id"] not in covered
    )  # fmt: skip
    survives = bool(counts) and all(2 * n < total for n in counts.values()) and not unprotected
    return {"primaries_by_host": dict(sorted(counts.items())), "without_replica": unprotected,
            "survives_host_loss": survives}  # fmt: skip


def replica_moves(cluster_nodes: str) -> list[dict[str, str]]:
    """The CLUSTER REPLICATEs that give every primary serving slots a replica on another host
    and leave no replica on its primary's host: such a replica goes to a primary on another
    host (one without a replica elsewhere first, then the one with the fewest replicas); a
    primary still without one takes a replica from a primary that has two or more, one that
    is not on its host. Each move is {replica, primary} as host:port, in order."""
    rows = [dict(row) for row in cluster_rows(cluster_nodes) if not DOWN_FLAGS & row["flags"]]
    by_id = {row["id"]: row for row in rows}
    serving = [r for r in rows if "master" in r["flags"] and r["slots"]]
    moves: list[dict[str, str]] = []

    def followers(primary: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in rows if "slave" in r["flags"] and r["primary_id"] == primary["id"]]

    def covered(primary: dict[str, Any]) -> bool:
        return any(host_of(r["address"]) != host_of(primary["address"]) for r in followers(primary))

    def move(replica: dict[str, Any], primary: dict[str, Any]) -> None:
        moves.append({"replica": replica["address"], "primary": primary["address"]})
        replica["primary_id"] = primary["id"]

    for replica in [r for r in rows if "slave" in r["flags"] and r["primary_id"] in by_id]:
        if host_of(replica["address"]) != host_of(by_id[replica["primary_id"]]["address"]):
            continue
        targets = [p for p in serving if host_of(p["address"]) != host_of(replica["address"])]
        if targets:
            move(replica, min(targets, key=lambda p: (covered(p), len(followers(p)))))
    for orphan in [p for p in serving if not covered(p)]:
        home = host_of(orphan["address"])
        donors = sorted((p for p in serving if len(followers(p)) > 1), key=lambda p: -len(followers(p)))
        spare = next((r for d in donors for r in followers(d) if host_of(r["address"]) != home), None)
        if spare is not None:
            move(spare, orphan)
    return moves


def placement_moves(cluster_nodes: str) -> list[dict[str, str]]:
    """The CLUSTER FAILOVERs (a replica takes its primary's role; no data moves) that spread
    the primaries so that no host runs more than its even share (rounded up). Each move is
    {replica, primary} as host:port; they are worked out on a copy of the table, one after
    the other, always from the host with the most primaries to the host with the fewest."""
    rows = [dict(row) for row in cluster_rows(cluster_nodes)]
    moves: list[dict[str, str]] = []
    for _unused in range(len(rows)):
        counts = primaries_by_host(rows)
        if not counts:
            break
        share = -(-sum(counts.values()) // len(counts))
        best: tuple[int, dict[str, Any], dict[str, Any]] | None = None
        for primary in rows:
            here = host_of(primary["address"])
            if "master" not in primary["flags"] or not primary["slots"] or counts[here] <= share:
                continue
            for replica in rows:
                there = host_of(replica["address"])
                if (
                    replica["primary_id"] == primary["id"]
                    and "slave" in replica["flags"]
                    and not DOWN_FLAGS & replica["flags"]
                    and replica["link"] == "connected"
                    and counts[there] < share
                    and (best is None or counts[there] < best[0])
                ):
                    best = (counts[there], primary, replica)
        if best is None:
            break
        _unused, primary, replica = best
        moves.append({"replica": replica["address"], "primary": primary["address"]})
        # The replica takes the slots; the old primary and its other replicas follow it.
        replica["flags"] = (replica["flags"] - {"slave"}) | {"master"}
        replica["slots"], replica["primary_id"] = primary["slots"], "-"
        for row in rows:
            if row["primary_id"] == primary["id"]:
                row["primary_id"] = replica["id"]
        primary["flags"] = (primary["flags"] - {"master"}) | {"slave"}
        primary["slots"], primary["primary_id"] = 0, replica["id"]
    return moves


def join_plan(cluster_nodes: str, loners: list[str], replicas: int) -> list[dict[str, str]]:
    """How nodes not yet in the cluster (host:port) join it, in order: as primaries while the
    cluster has fewer than one primary for every 1 + `replicas` nodes (one new host at a
    time, so that the new primaries spread), then as replicas, each of the primary with the
    fewest replicas on another host than its own. Each step is {node, as: primary|replica,
    primary: host:port of the primary it replicates, for a replica}."""
    rows = [row for row in cluster_rows(cluster_nodes) if not DOWN_FLAGS & row["flags"]]
    primaries = [row["address"] for row in rows if "master" in row["flags"]]
    by_id = {row["id"]: row["address"] for row in rows}
    followers = {address: 0 for address in primaries}
    for row in rows:
        if "slave" in row["flags"] and by_id.get(row["primary_id"]) in followers:
            followers[by_id[row["primary_id"]]] += 1
    wanted = (len(rows) + len(loners)) // (1 + replicas)
    steps: list[dict[str, str]] = []
    waiting = list(loners)
    while len(primaries) < wanted and waiting:
        taken = [host_of(a) for a in primaries]
        node = min(waiting, key=lambda a: (taken.count(host_of(a)), waiting.index(a)))
        waiting.remove(node)
        primaries.append(node)
        followers[node] = 0
        steps.append({"node": node, "as": "primary"})
    for node in waiting:
        elsewhere = [p for p in primaries if host_of(p) != host_of(node)] or primaries
        primary = min(elsewhere, key=lambda p: (followers[p], primaries.index(p)))
        followers[primary] += 1
        steps.append({"node": node, "as": "replica", "primary": primary})
    return steps

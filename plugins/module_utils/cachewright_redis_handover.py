# SPDX-License-Identifier: Apache-2.0
"""Handing a Redis primary's role to a replica without losing an acknowledged write.

Three ways, by who manages the replication group:

- Sentinel: writes are held on the primary (CLIENT PAUSE WRITE) until every replica has
  all of them; the Sentinels promote one (SENTINEL FAILOVER; a replica can be preferred by
  giving it the lowest replica-priority for the time of the switch); the old primary then
  follows the new one at once and its held clients are disconnected, to find the new
  primary through the Sentinels.
- Cluster: CLUSTER FAILOVER, sent to the replica, which waits for every write of its
  primary before it takes the slots.
- Neither: Redis's own FAILOVER TO (6.2+), which holds writes until the replica has them.

Used by the restart path (cachewright_redis_restart) and the failover drill module.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    PAUSE_MS,
    Access,
    GateError,
    cluster_replicas,
    gate_in_sync,
    gate_replicas_level,
    redis,
    replicas_of,
    wait_until,
)

# replica-priority of the replica a put-back prefers while the Sentinels choose (lowest wins).
PREFERRED_PRIORITY = 1


@dataclass
class Handover:
    """The hand-overs, each gated; `log` says what happened, step by step."""

    access: Access
    timeout: float = 60.0
    log: list[str] = field(default_factory=list)

    def note(self, label: str, text: str) -> None:
        self.log.append(f"{label}: {text}")

    # -- Sentinel -------------------------------------------------------------------
    def sentinel_view(self, endpoints: list[tuple[str, int]], master: str) -> dict[str, str]:
        """What each reachable Sentinel answers GET-MASTER-ADDR-BY-NAME (host:port)."""
        view = {}
        for host, port in endpoints:
            try:
                reply = self.access.sentinel(host, port).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", master
                )
            except (redis.RedisError, OSError):
                continue
            if reply:
                view[f"{host}:{port}"] = f"{reply[0]}:{reply[1]}"
        if not view:
            raise GateError(f"no Sentinel of {master!r} answers ({endpoints})")
        return view

    def sentinel_tables(self, endpoints: list[tuple[str, int]], master: str) -> dict[str, str]:
        """The primary each reachable Sentinel has in its table (SENTINEL MASTER): it changes
        at +switch-master, once every replica follows the new primary."""
        view = {}
        for host, port in endpoints:
            try:
                reply = self.access.sentinel(host, port).execute_command("SENTINEL", "MASTER", master)
            except (redis.RedisError, OSError):
                continue
            fields = dict(zip(reply[0::2], reply[1::2])) if isinstance(reply, list) else dict(reply)
            view[f"{host}:{port}"] = f"{fields.get('ip')}:{fields.get('port')}"
        return view

    def ask_failover(self, endpoints: list[tuple[str, int]], master: str) -> tuple[str, int]:
        """SENTINEL FAILOVER on the first Sentinel that accepts it; that Sentinel."""
        errors = []
        for host, port in endpoints:
            try:
                self.access.sentinel(host, port).execute_command("SENTINEL", "FAILOVER", master)
                return host, port
            except (redis.RedisError, OSError) as error:
                errors.append(f"{host}:{port}: {error}")
        raise GateError(f"no Sentinel would fail {master!r} over: {'; '.join(errors)}")

    def sentinel(
        self,
        primary: redis.Redis,
        label: str,
        sentinels: list[tuple[str, int, str]],
        prefer: tuple[str, int] | None = None,
    ) -> dict[str, Any]:
        """Hand a Sentinel-managed primary's role to a replica (`prefer`, when given)."""
        master = sentinels[0][2]
        endpoints = [(host, port) for host, port, _unused in sentinels]
        before = self.sentinel_view(endpoints, master)
        if len(set(before.values())) != 1:
            raise GateError(f"{label}: the Sentinels do not agree on the primary of {master!r}: {before}")
        old = next(iter(before.values()))
        online = [r for r in replicas_of(primary.info("replication")) if r.state == "online"]
        if not online:
            raise GateError(f"{label}: no replica online to hand the primary role of {master!r} to")
        restore = self._prefer(prefer) if prefer else None
        start = time.monotonic()
        try:
            primary.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
            try:
                gate_replicas_level(primary, f"{label}: replicas level with the held primary", 5)
                leader = self.ask_failover(endpoints, master)

                def promoted() -> tuple[bool, str]:
                    view = self.sentinel_view([leader], master)
                    return old not in view.values(), f"Sentinel {leader[0]}:{leader[1]} says {view}"

                wait_until(
                    f"{label}: a replica promoted to primary of {master!r}", promoted, self.timeout, 0.02
                )
                new = next(iter(self.sentinel_view([leader], master).values()))
                host, port = new.rsplit(":", 1)
                primary.execute_command("REPLICAOF", host, port)
                primary.execute_command("CONFIG", "REWRITE")
                primary.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            finally:
                primary.execute_command("CLIENT", "UNPAUSE")
        finally:
            if restore:
                restore()
        held = time.monotonic() - start

        def switched() -> tuple[bool, str]:
            tables = self.sentinel_tables(endpoints, master)
            return set(tables.values()) == {new}, f"Sentinels say {tables}"

        wait_until(f"{label}: every Sentinel names {new} the primary of {master!r}", switched, self.timeout)
        gate_in_sync(self.access, primary, label, self.timeout)
        total = time.monotonic() - start
        self.note(
            label,
            f"{master}: {old} -> {new}, writes held {held:.2f} s, "
            f"every Sentinel switched after {total:.2f} s",
        )
        return {"group": master, "via": "sentinel", "old": old, "new": new,
                "held_seconds": round(held, 2), "seconds": round(total, 2)}  # fmt: skip

    def _prefer(self, replica: tuple[str, int]) -> Any:
        """Give a replica the lowest replica-priority; a function that gives back its own."""
        client = self.access.remote(*replica)
        was = client.config_get("replica-priority")["replica-priority"]
        client.config_set("replica-priority", PREFERRED_PRIORITY)

        def restore() -> None:
            client.config_set("replica-priority", was)

        return restore

    # -- cluster --------------------------------------------------------------------
    def cluster(self, node: redis.Redis, label: str, to: tuple[str, int] | None = None) -> dict[str, Any]:
        """CLUSTER FAILOVER from a replica of this primary node (`to`, or its first healthy
        replica); this node becomes that replica's replica."""
        start = time.monotonic()
        found: list[str] = []

        def healthy_replica() -> tuple[bool, str]:
            myself, replicas = cluster_replicas(node.execute_command("CLUSTER", "NODES"))
            wanted = f"{to[0]}:{to[1]}" if to else (replicas[0] if replicas else "")
            found[:] = [myself, wanted]
            return bool(wanted) and wanted in replicas, f"healthy replicas of {myself}: {replicas or 'none'}"

        wait_until(f"{label}: a healthy replica to hand the slots to", healthy_replica, self.timeout)
        myself, target = found
        host, port = target.rsplit(":", 1)
        self.access.remote(host, int(port)).execute_command("CLUSTER", "FAILOVER")

        def demoted() -> tuple[bool, str]:
            role = node.execute_command("ROLE")[0]
            return role == "slave", f"role {role}"

        wait_until(f"{label}: cluster replica {target} takes the slots", demoted, self.timeout, 0.02)
        switched = time.monotonic() - start
        gate_in_sync(self.access, node, label, self.timeout)
        self.note(label, f"cluster slots of {myself} handed to {target} in {switched:.2f} s")
        return {"group": f"cluster shard of {myself}", "via": "cluster", "old": myself, "new": target,
                "held_seconds": round(switched, 2),
                "seconds": round(time.monotonic() - start, 2)}  # fmt: skip

    # -- Redis's own FAILOVER -------------------------------------------------------
    def failover_to(self, primary: redis.Redis, host: str, port: int, label: str) -> dict[str, Any]:
        """FAILOVER TO host:port: writes held until that replica has them, then roles swap.
        Both roles are written to the files (CONFIG REWRITE) so that a restart keeps them."""
        start = time.monotonic()
        primary.execute_command("FAILOVER", "TO", host, port, "TIMEOUT", PAUSE_MS)

        def done() -> tuple[bool, str]:
            info = primary.info("replication")
            return (
                info.get("role") == "slave"
                and info.get("master_failover_state", "no-failover") == "no-failover",
                f"role {info.get('role')}, failover {info.get('master_failover_state')}",
            )

        wait_until(f"{label}: primary role handed to {host}:{port}", done, self.timeout, 0.02)
        switched = time.monotonic() - start
        primary.execute_command("CONFIG", "REWRITE")
        self.access.remote(host, port).execute_command("CONFIG", "REWRITE")
        gate_in_sync(self.access, primary, label, self.timeout)
        self.note(label, f"primary role handed to {host}:{port} in {switched:.2f} s (FAILOVER TO)")
        return {"group": label, "via": "failover", "old": label, "new": f"{host}:{port}",
                "held_seconds": round(switched, 2),
                "seconds": round(time.monotonic() - start, 2)}  # fmt: skip


def replica_address(
    primary: redis.Redis, at: tuple[str, int], replica: redis.Redis
) -> tuple[str, int] | None:
    """How a primary (reached at `at`) lists this host's replica among its replicas: the
    address this host connects to it from, and the replica's own port."""
    with socket.create_connection(at, timeout=5) as probe:
        host = probe.getsockname()[0]
    port = int(replica.config_get("tls-port").get("tls-port") or 0) or int(replica.config_get("port")["port"])
    for listed in replicas_of(primary.info("replication")):
        if (listed.host, listed.port) == (host, port) and listed.state == "online":
            return host, port
    return None

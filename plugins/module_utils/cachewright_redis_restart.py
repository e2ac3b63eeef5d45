# SPDX-License-Identifier: Apache-2.0
"""The one safe restart path of a Redis instance (plugins/modules/redis_instances.py).

- A replica restarts, then must be back, loaded, linked to its primary and caught up.
- A primary never restarts while it is the primary when it can hand its role over: to a
  replica through Sentinel or the cluster, or with FAILOVER TO (and back afterwards) where
  Ansible points the replicas; it then restarts as a replica.
- A primary nobody replicates reloads its own AOF or RDB; without persistence, writes are
  held while one snapshot is taken, which it loads at start and which is then removed.

How a process is restarted is given by the caller (systemctl in the module, a plain
process in tests/test_module_utils_redis.py). Every step waits for its gate; one that does
not pass in time raises GateError, which stops the roll-out.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    PAUSE_MS,
    Access,
    Replica,
    discover_sentinels,
    gate_in_sync,
    gate_settled,
    gate_up,
    persistence_of,
    read_snapshot,
    redis,
    replicas_of,
    wait_until,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_handover import (
    Handover,
    replica_address,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import cluster_rows


def serves_slots(cluster_nodes: str) -> bool:
    """Whether the node that answered CLUSTER NODES (its `myself` row) serves any slot."""
    return any("myself" in row["flags"] and row["slots"] > 0 for row in cluster_rows(cluster_nodes))


def version_key(version: str) -> tuple[int, ...]:
    """A Redis version (7.0.15) as numbers, for comparison."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def swap_target(replicas: list[Replica], versions: dict[tuple[str, int], str], own: str) -> Replica:
    """The replica a primary hands its role to before it restarts as that replica's replica:
    the most advanced online one among those not newer than the primary (an older replica
    cannot load a newer primary's data, so the old primary could not follow a newer one);
    the most advanced online one when every replica is newer."""
    online = [r for r in replicas if r.state == "online"]
    fitting = [r for r in online if version_key(versions.get(r.address, own)) <= version_key(own)]
    return max(fitting or online, key=lambda r: r.offset)


@dataclass
class Restarter:
    """Restarts the instances of one host; `log` says what was done, step by step."""

    access: Access
    socket_of: Callable[[str], str]
    restart: Callable[[str], None]
    timeout: float = 60.0
    log: list[str] = field(default_factory=list)

    def local(self, name: str) -> redis.Redis:
        return self.access.local(self.socket_of(name))

    @property
    def handover(self) -> Handover:
        return Handover(self.access, self.timeout, self.log)

    def restart_safely(self, name: str) -> dict[str, Any]:
        """Restart one instance without losing its data; what was done, and how long."""
        start = time.monotonic()
        client = self.local(name)
        gate_settled(client, name, self.timeout)
        snap = read_snapshot(client, name)
        if not snap.primary:
            path = "replica: restarted, then in sync with its primary"
        elif snap.cluster and not serves_slots(client.execute_command("CLUSTER", "NODES")):
            # A node that joined no cluster yet, or an empty primary: nothing to hand over.
            self.restart(name)
            gate_up(self.local(name), name, self.timeout)
            path = "cluster node serving no slot: restarted"
            return {"name": name, "path": path, "seconds": round(time.monotonic() - start, 2)}
        elif snap.cluster:
            done = self.handover.cluster(client, name)
            path = f"cluster primary: CLUSTER FAILOVER to {done['new']}, then restarted as its replica"
        elif sentinels := discover_sentinels(client):
            done = self.handover.sentinel(client, name, sentinels)
            path = (
                f"Sentinel-managed primary: SENTINEL FAILOVER {done['group']} to {done['new']}, "
                "then restarted as its replica"
            )
        else:
            # These restart the instance themselves.
            online = [r for r in replicas_of(snap.replication) if r.state == "online"]
            path = self.swap_restart(name) if online else self.restart_standalone(name)
            return {"name": name, "path": path, "seconds": round(time.monotonic() - start, 2)}
        self.restart_replica(name)
        return {"name": name, "path": path, "seconds": round(time.monotonic() - start, 2)}

    def restart_replica(self, name: str) -> None:
        gate_settled(self.local(name), name, self.timeout)
        self.restart(name)
        # A fresh client: a restart may move the instance to another socket (a switch of server).
        client = self.local(name)
        gate_up(client, name, self.timeout)
        gate_in_sync(self.access, client, name, self.timeout)
        self.log.append(f"{name}: restarted and in sync")

    def restart_standalone(self, name: str) -> str:
        client = self.local(name)
        kind = persistence_of(client)
        if kind != "none":
            self.restart(name)
            gate_up(self.local(name), name, self.timeout)
            return f"standalone primary ({kind}): restarted, reloaded its data"
        dump = os.path.join(client.config_get("dir")["dir"], client.config_get("dbfilename")["dbfilename"])
        client.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        try:
            client.save()
            self.restart(name)
        finally:
            # It restarted: the pause went with the old process.
            with contextlib.suppress(redis.RedisError, OSError):
                client.execute_command("CLIENT", "UNPAUSE")
        gate_up(self.local(name), name, self.timeout)
        if os.path.exists(dump):
            os.remove(dump)
        return (
            "standalone primary without persistence: writes held, one snapshot taken, restarted, "
            "loaded, removed"
        )

    def swap_restart(self, name: str) -> str:
        """A primary whose replicas Ansible points: FAILOVER TO its most advanced replica,
        restart as that replica's replica, then FAILOVER back."""
        client = self.local(name)
        replicas = replicas_of(client.info("replication"))
        versions = {}
        for replica in replicas:
            with contextlib.suppress(redis.RedisError, OSError):
                versions[replica.address] = str(
                    self.access.remote(replica.host, replica.port).info("server")["redis_version"]
                )
        target = swap_target(replicas, versions, str(client.info("server")["redis_version"]))
        self.handover.failover_to(client, target.host, target.port, name)
        self.restart_replica(name)
        client = self.local(name)
        peer = self.access.remote(target.host, target.port)
        found: list[tuple[str, int]] = []

        def listed() -> tuple[bool, str]:
            me = replica_address(peer, target.address, client)
            found[:] = [me] if me else []
            return (
                me is not None,
                f"replicas of {target.host}:{target.port}: {replicas_of(peer.info('replication'))}",
            )

        wait_until(f"{name}: an online replica of {target.host}:{target.port}", listed, self.timeout)
        me = found[0]
        self.handover.failover_to(peer, me[0], me[1], f"{target.host}:{target.port}")

        def back() -> tuple[bool, str]:
            role = client.execute_command("ROLE")[0]
            return role == "master", f"role {role}"

        wait_until(f"{name}: primary again", back, self.timeout)
        return (
            f"primary with replicas: FAILOVER TO {target.host}:{target.port}, restarted as its replica, "
            "FAILOVER back"
        )

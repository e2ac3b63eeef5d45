#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: hand a Redis primary's role to a replica (or take it back), and measure it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_failover
short_description: Fail a Redis primary over, or make a replica the primary again, without losing writes
version_added: 1.0.0
description:
  - C(mode=demote) on a primary hands its role to a replica - through Sentinel (SENTINEL
    FAILOVER, writes held until every replica has them), the cluster (CLUSTER FAILOVER from a
    replica) or Redis's own FAILOVER TO where Ansible points the replicas. Nothing to do on a replica.
  - C(mode=promote) on a replica makes it the primary of its group again (the Sentinels are
    made to prefer it; a cluster replica takes its primary's slots). Nothing to do on a primary.
  - With C(probe), a client writes to the group's primary every 10 ms during the switch - finding
    it as Sentinel clients do (GET-MASTER-ADDR-BY-NAME) or through the cluster's redirections -
    and the longest time it was refused is returned. Its keys (C(cachewright:drill:*)) expire
    after a minute.
  - Every step is gated; the module fails when a gate does not pass within C(wait_seconds).
    Supports check mode.
options:
  instance:
    description: Name of the instance on this host (C(redis-server@<name>)).
    type: str
    required: true
  mode:
    description: Hand the primary role away (demote) or take it (promote).
    type: str
    choices: [demote, promote]
    default: demote
  probe:
    description: Measure how long a client was refused during the switch.
    type: bool
    default: true
extends_documentation_fragment:
  - cachewright.cache.redis_access
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Fail the cache group over
  cachewright.cache.redis_failover:
    instance: cache
    mode: demote
    admin_user: cw-admin
    admin_password: "{{ redis_server_admin_password }}"
    sentinel_password: "{{ redis_sentinel_password }}"
"""

RETURN = r"""
group:
  description: The Sentinel master name, or the cluster shard, that switched.
  returned: changed
  type: str
old:
  description: Address of the primary before.
  returned: changed
  type: str
new:
  description: Address of the primary after.
  returned: changed
  type: str
held_seconds:
  description: How long writes were held on the old primary (until the new one was chosen).
  returned: changed
  type: float
refused_seconds:
  description: The longest time the probe client was refused (0.0 when it never was).
  returned: changed and probe
  type: float
"""

import threading
import time
import uuid
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    Access,
    GateError,
    access_argument_spec,
    cluster_replicas,
    discover_sentinels,
    redis,
    replicas_of,
    require_redis,
    wait_until,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_handover import (
    Handover,
    replica_address,
)


class RefusalProbe(threading.Thread):
    """Writes to the group's current primary every 10 ms; records the longest refusal."""

    def __init__(self, write: Any) -> None:
        super().__init__(daemon=True)
        self.write = write
        self.stop = threading.Event()
        self.longest = 0.0
        self.failures = 0
        self.writes = 0

    def run(self) -> None:
        failing_since: float | None = None
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                self.write(f"cachewright:drill:{uuid.uuid4().hex}")
                self.writes += 1
                if failing_since is not None:
                    self.longest = max(self.longest, time.monotonic() - failing_since)
                    failing_since = None
            except (redis.RedisError, OSError, GateError):
                self.failures += 1
                failing_since = failing_since if failing_since is not None else began
            time.sleep(0.01)


def sentinel_writer(handover: Handover, sentinels: list[tuple[str, int, str]]) -> Any:
    """A write to whatever primary the Sentinels name now, as their clients find it."""
    endpoints = [(host, port) for host, port, _unused in sentinels]
    master = sentinels[0][2]

    def write(key: str) -> None:
        address = next(iter(handover.sentinel_view(endpoints, master).values()))
        host, port = address.rsplit(":", 1)
        handover.access.remote(host, int(port)).set(key, "1", ex=60)

    return write


def cluster_writer(access: Access, node: tuple[str, int], slot_key: str) -> Any:
    """A write to one slot of the shard, through the cluster's redirections."""
    tls = access._tls(access.tls)
    cluster = redis.cluster.RedisCluster(
        host=node[0], port=node[1], username=access.admin_user, password=access.admin_password,
        socket_timeout=access.timeout, **tls,
    )  # fmt: skip

    def write(key: str) -> None:
        cluster.set(f"{{{slot_key}}}{key}", "1", ex=60)

    return write


def slot_key_of(node: redis.Redis) -> str:
    """A hash tag whose slot this primary node serves."""
    first = int(
        next(row for row in node.execute_command("CLUSTER", "NODES").splitlines() if "myself" in row)
        .split()[8]
        .split("-")[0]
    )
    for candidate in range(100000):
        tag = f"cw{candidate}"
        if int(node.execute_command("CLUSTER", "KEYSLOT", tag)) == first:
            return tag
    raise GateError("no hash tag found for the node's first slot")


ARGUMENTS: dict[str, Any] = {
    "instance": {"type": "str", "required": True},
    "mode": {"type": "str", "choices": ["demote", "promote"], "default": "demote"},
    "probe": {"type": "bool", "default": True},
    **access_argument_spec(),
}


def start_probe(access: Access, handover: Handover, old: redis.Redis, sentinels: list) -> RefusalProbe:
    """A client writing to the group's primary through the switch, started."""
    if sentinels:
        probe = RefusalProbe(sentinel_writer(handover, sentinels))
    else:
        node = next(row for row in old.execute_command("CLUSTER", "NODES").splitlines() if "myself" in row)
        host, port = node.split()[1].split("@")[0].rsplit(":", 1)
        probe = RefusalProbe(cluster_writer(access, (host, int(port)), slot_key_of(old)))
    probe.start()
    time.sleep(0.2)
    return probe


def switch(
    handover: Handover, name: str, me: redis.Redis, old: redis.Redis, sentinels: list
) -> dict[str, Any]:
    """Hand `old`'s primary role away: to `me` when `me` is its replica, else to a replica."""
    promote = old is not me
    info = me.info("everything")
    at = (info["master_host"], int(info["master_port"])) if promote else ("", 0)
    if int(info.get("cluster_enabled", 0)) == 1:
        to = cluster_replicas(me.execute_command("CLUSTER", "NODES"))[0].rsplit(":", 1) if promote else None
        done = handover.cluster(old, name, (to[0], int(to[1])) if to else None)
    elif sentinels:
        done = handover.sentinel(old, name, sentinels, replica_address(old, at, me) if promote else None)
    else:
        online = [r for r in replicas_of(info) if r.state == "online"]
        target = replica_address(old, at, me) if promote else max(online, key=lambda r: r.offset).address
        if target is None:
            raise GateError(f"{name}: not an online replica of its primary")
        done = handover.failover_to(old, target[0], int(target[1]), name)
    if promote:

        def promoted() -> tuple[bool, str]:
            role = me.execute_command("ROLE")[0]
            return role == "master", f"role {role}"

        wait_until(f"{name}: the primary of its group", promoted, handover.timeout)
    return done


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENTS, supports_check_mode=True)
    require_redis(module)
    params = module.params
    name = params["instance"]
    access = Access.from_params(params)
    handover = Handover(access, float(params["wait_seconds"]))
    me = access.local(params["socket"].replace("{name}", name))
    info = me.info("everything")
    primary = info["role"] == "master"
    if primary == (params["mode"] == "promote"):
        module.exit_json(changed=False, msg=f"{name} is already the {'primary' if primary else 'replica'}")
    if module.check_mode:
        module.exit_json(changed=True, msg=f"would {params['mode']} {name}")
    cluster = int(info.get("cluster_enabled", 0)) == 1
    sentinels = [] if cluster else discover_sentinels(me)
    old = me if primary else access.remote(info["master_host"], info["master_port"])
    probe = None
    try:
        if params["probe"] and (cluster or sentinels):
            probe = start_probe(access, handover, old, sentinels)
        done = switch(handover, name, me, old, sentinels)
        if probe is not None:
            time.sleep(0.5)
    except (GateError, redis.RedisError, OSError) as error:
        module.fail_json(msg=f"redis-server@{name}: {error}", log=handover.log)
    finally:
        if probe is not None:
            probe.stop.set()
            probe.join(5)
    result: dict[str, Any] = {**done, "log": handover.log}
    if probe is not None:
        result.update(
            refused_seconds=round(probe.longest, 2), probe_writes=probe.writes, probe_failures=probe.failures
        )
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()

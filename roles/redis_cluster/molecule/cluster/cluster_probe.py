"""Use a Cachewright Redis Cluster from a client host, before and after a failover.

python cluster_probe.py spec.json write    # 1,000 keys, each acknowledged by a replica (WAIT 1)
python cluster_probe.py spec.json verify   # the cluster's health and every acknowledged key
"""

from __future__ import annotations

import json
import sys
from typing import Any

import redis
from cw_checks import check, report
from redis.cluster import ClusterNode, RedisCluster


def cluster_client(spec: dict[str, Any], user: str, password: str) -> RedisCluster:
    nodes = [ClusterNode(host, port) for host, port in spec["nodes"]]
    return RedisCluster(startup_nodes=nodes, username=user, password=password, socket_timeout=5)


def node_client(spec: dict[str, Any], host: str, port: int) -> redis.Redis:
    return redis.Redis(host=host, port=port, username=spec["admin_user"], password=spec["admin_password"],
                       socket_timeout=5)  # fmt: skip


def write(spec: dict[str, Any]) -> int:
    """SET every key on its own primary's connection, then WAIT 1 there: acknowledged writes."""
    cluster = cluster_client(spec, spec["app_user"], spec["app_password"])
    by_node: dict[tuple[str, int], list[str]] = {}
    for i in range(spec["keys"]):
        key = f"{spec['prefix']}k{i}"
        node = cluster.get_node_from_key(key)
        by_node.setdefault((node.host, node.port), []).append(key)
    acknowledged = []
    for (host, port), keys in by_node.items():
        direct = redis.Redis(
            host=host, port=port, username=spec["app_user"], password=spec["app_password"], socket_timeout=15
        )
        for key in keys:
            direct.set(key, key.encode())
        replicas = direct.execute_command("WAIT", 1, 5000)
        if replicas >= 1:
            acknowledged += keys
        print(f"{host}:{port}: {len(keys)} keys, WAIT 1 -> {replicas} replica(s)")
    with open(spec["acknowledged_file"], "w", encoding="utf-8") as stream:
        json.dump(acknowledged, stream)
    print(f"{len(acknowledged)} of {spec['keys']} keys acknowledged by a replica")
    return 0 if len(acknowledged) == spec["keys"] else 1


def healthy(spec: dict[str, Any]) -> None:
    for host, port in spec["nodes"]:
        info = node_client(spec, host, port).execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        assert "cluster_state:ok" in text, f"{host}:{port} is not ok"
        assert "cluster_slots_ok:16384" in text, f"{host}:{port}: not every slot is served"
        assert f"cluster_known_nodes:{len(spec['nodes'])}" in text, f"{host}:{port} does not know every node"


def replicas_elsewhere(spec: dict[str, Any]) -> None:
    host, port = spec["nodes"][0]
    text = node_client(spec, host, port).execute_command("CLUSTER", "NODES")
    text = text.decode() if isinstance(text, bytes) else str(text)
    rows = [line.split() for line in text.splitlines() if line.strip()]
    address = {r[0]: r[1].split("@")[0].rsplit(":", 1)[0] for r in rows}
    primaries = [r for r in rows if "master" in r[2]]
    replicas = [r for r in rows if "slave" in r[2]]
    assert len(primaries) == 3 and len(replicas) == 3, f"{len(primaries)} primaries, {len(replicas)} replicas"
    for r in replicas:
        assert address[r[0]] != address[r[3]], f"replica {r[1]} shares its primary's host"


def keys_survived(spec: dict[str, Any]) -> None:
    with open(spec["acknowledged_file"], encoding="utf-8") as stream:
        keys = json.load(stream)
    cluster = cluster_client(spec, spec["app_user"], spec["app_password"])
    values = cluster.mget_nonatomic(keys)
    missing = [k for k, v in zip(keys, values, strict=True) if v != k.encode()]
    assert len(keys) == spec["keys"], f"only {len(keys)} keys were acknowledged"
    assert not missing, f"{len(missing)} acknowledged keys lost, e.g. {missing[:3]}"


def failover_in_time(spec: dict[str, Any]) -> None:
    with open(spec["failover_file"], encoding="utf-8") as stream:
        failover = json.load(stream)
    print(f"     failover of {failover['stopped']}: cluster ok again after {failover['seconds']} s")
    assert failover["seconds"] <= spec["max_failover_seconds"], f"took {failover['seconds']} s"


def verify(spec: dict[str, Any]) -> int:
    check("every node: cluster_state ok, 16384 slots, every node known", lambda: healthy(spec))
    check("3 primaries, 3 replicas, no replica on its primary's host", lambda: replicas_elsewhere(spec))
    check("the failover took at most the limit", lambda: failover_in_time(spec))
    check(f"all {spec['keys']} acknowledged keys readable after the failover", lambda: keys_survived(spec))
    return report()


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as spec_stream:
        SPEC = json.load(spec_stream)
    sys.exit(write(SPEC) if sys.argv[2] == "write" else verify(SPEC))

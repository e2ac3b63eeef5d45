# SPDX-License-Identifier: Apache-2.0
"""The safe restart path and the hand-overs (plugins/module_utils/cachewright_redis*.py)
against live redis-server and Sentinel processes on loopback (tests/redis_nodes_fixture.py),
with writers running: no acknowledged write may be lost, every gate must hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    Access,
    GateError,
    carried_config,
    discover_sentinels,
    gate_in_sync,
    while_loading,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_handover import Handover
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_restart import Restarter

from redis_nodes_fixture import ADMIN, ADMIN_PASSWORD, SENTINEL_PASSWORD, Group

ACCESS = Access(
    admin_user=ADMIN, admin_password=ADMIN_PASSWORD, sentinel_password=SENTINEL_PASSWORD, timeout=2
)


def restarter(group: Group) -> Restarter:
    return Restarter(
        access=Access(admin_user=ADMIN, admin_password=ADMIN_PASSWORD, sentinel_password=SENTINEL_PASSWORD),
        socket_of=lambda name: name,  # the tests name an instance by its socket
        restart=lambda socket: group.by_socket(socket).restart(),
        timeout=20,
    )


class Writers(threading.Thread):
    """Writes unique keys to whatever the Sentinels (or a fixed node) name the primary."""

    def __init__(self, group: Group) -> None:
        super().__init__(daemon=True)
        self.group = group
        self.stop = threading.Event()
        self.acknowledged: list[str] = []
        self.failed = 0

    def primary(self) -> redis.Redis:
        if self.group.watchers:
            host, port = self.group.watchers[0].client().sentinel_get_master_addr_by_name(self.group.name)
            return redis.Redis(
                host=host, port=port, username=ADMIN, password=ADMIN_PASSWORD, socket_timeout=1
            )
        return self.group.nodes[0].client()

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            key = f"w:{number}"
            try:
                if self.primary().set(key, key):
                    self.acknowledged.append(key)
            except (redis.RedisError, OSError):
                self.failed += 1
            number += 1
            time.sleep(0.005)

    def finish(self) -> None:
        self.stop.set()
        self.join(10)


def lost(group: Group, keys: list[str]) -> list[str]:
    primary = group.primary().client()
    return [key for key, value in zip(keys, primary.mget(keys) if keys else [], strict=True) if value is None]


@pytest.fixture
def group(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Group]:
    started = Group(tmp_path, **request.param).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("group", [{"base_port": 31001, "replicas": 1}], indirect=True)
def test_a_replica_restarts_and_is_in_sync_before_the_gate_passes(group: Group) -> None:
    primary, replica = group.nodes
    primary.client().mset({f"k:{i}": i for i in range(1000)})
    done = restarter(group).restart_safely(replica.socket)
    assert done["path"].startswith("replica")
    info = replica.client().info("replication")
    assert info["master_link_status"] == "up"
    assert info["slave_repl_offset"] >= primary.client().info("replication")["master_repl_offset"] - 100
    assert replica.client().dbsize() == 1000


@pytest.mark.parametrize("group", [{"base_port": 31011, "replicas": 0}], indirect=True)
def test_a_lone_primary_without_persistence_keeps_its_keys(group: Group) -> None:
    (primary,) = group.nodes
    primary.client().mset({f"k:{i}": i for i in range(2000)})
    done = restarter(group).restart_safely(primary.socket)
    assert "snapshot" in done["path"]
    assert primary.client().dbsize() == 2000
    assert not (primary.directory / "dump.rdb").exists(), "the snapshot taken for the restart stays behind"


@pytest.mark.parametrize("group", [{"base_port": 31021, "replicas": 1}], indirect=True)
def test_a_primary_ansible_points_replicas_at_swaps_restarts_and_swaps_back(group: Group) -> None:
    primary, replica = group.nodes
    primary.client().mset({f"k:{i}": i for i in range(1000)})
    writers = Writers(group)
    writers.start()
    time.sleep(0.3)
    done = restarter(group).restart_safely(primary.socket)
    writers.finish()
    assert "FAILOVER TO" in done["path"]
    assert primary.client().info("replication")["role"] == "master"
    assert replica.client().info("replication")["role"] == "slave"
    assert primary.client().dbsize() >= 1000
    assert lost(group, writers.acknowledged) == []


@pytest.fixture(scope="module")
def sentinel_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Group]:
    """A primary, two replicas and three Sentinels, shared by the Sentinel tests in order."""
    started = Group(tmp_path_factory.mktemp("sentinel"), base_port=31031, replicas=2, sentinels=3).start()
    try:
        yield started
    finally:
        started.stop()


def test_a_sentinel_primary_hands_over_without_losing_a_write(sentinel_group: Group) -> None:
    group = sentinel_group
    old = group.nodes[0]
    assert [s[2] for s in discover_sentinels(old.client())] == ["drill"] * 3
    writers = Writers(group)
    writers.start()
    time.sleep(0.3)
    done = restarter(group).restart_safely(old.socket)
    time.sleep(0.5)
    writers.finish()
    assert "SENTINEL FAILOVER drill" in done["path"]
    assert old.client().info("replication")["role"] == "slave"
    new = group.primary()
    assert new is not old
    for watcher in group.watchers:
        assert watcher.client().sentinel_get_master_addr_by_name("drill")[1] == new.port
    assert len(writers.acknowledged) > 50
    assert lost(group, writers.acknowledged) == []


def test_a_put_back_makes_the_preferred_replica_the_primary(sentinel_group: Group) -> None:
    group = sentinel_group
    old = group.primary()
    chosen = next(node for node in group.nodes if node is not old and node is not group.nodes[0])
    sentinels = discover_sentinels(old.client())
    Handover(ACCESS, 20).sentinel(old.client(), "drill", sentinels, prefer=("127.0.0.1", chosen.port))
    assert group.primary() is chosen
    assert chosen.client().config_get("replica-priority")["replica-priority"] == "100"


@pytest.mark.parametrize("group", [{"base_port": 31051, "replicas": 1}], indirect=True)
def test_a_gate_that_does_not_pass_says_what_it_saw(group: Group) -> None:
    primary, replica = group.nodes
    primary.stop()
    with pytest.raises(GateError, match=r"linked to its primary: not reached within 1 s .*link down"):
        gate_in_sync(ACCESS, replica.client(), "replica", 1)


def test_a_cluster_primary_hands_its_slots_to_its_replica(tmp_path: Path) -> None:
    from redis_cluster_fixture import ADMIN_PASSWORD as CLUSTER_PASSWORD  # noqa: PLC0415
    from redis_cluster_fixture import LocalCluster  # noqa: PLC0415

    # The cluster bus listens on port + 10000: below the ephemeral ports (32768 and up).
    cluster = LocalCluster(tmp_path, base_port=21201)
    try:
        cluster.start()
        access = Access(admin_user="default", admin_password=CLUSTER_PASSWORD)
        port = cluster.primaries()[0]
        node = access.remote("127.0.0.1", port)
        client = redis.cluster.RedisCluster(host="127.0.0.1", port=port, password=CLUSTER_PASSWORD)
        client.mset_nonatomic({f"k:{i}": i for i in range(1000)})
        done = Handover(access, 20).cluster(node, f"node {port}")
        assert node.execute_command("ROLE")[0] == "slave"
        assert done["new"] != done["old"]
        cluster.wait_ok(20)
        assert all(value is not None for value in client.mget_nonatomic([f"k:{i}" for i in range(1000)]))
    finally:
        cluster.stop()


def test_a_carried_main_file_keeps_run_time_state_but_not_the_old_servers_paths() -> None:
    old = (
        "# written once by Ansible\n"
        'save ""\n'
        "# Generated by CONFIG REWRITE\n"
        'dir "/var/lib/redis/cache"\n'
        "replicaof 10.0.0.1 6379\n"
        "hz 20\n"
        "latency-tracking-info-percentiles 50 99 99.9\n"
    )
    owned = (
        "# managed\nport 6379\ndir /var/lib/valkey/cache\n"
        'unixsocket /run/valkey-cache/valkey-server.sock\nsave ""\n'
    )
    carried = carried_config(old, owned)
    assert "/var/lib/redis" not in carried
    assert "replicaof 10.0.0.1 6379" in carried and "hz 20" in carried
    assert "save" not in carried  # the Ansible-owned file sets it, loaded after


def test_a_carried_sentinel_file_keeps_every_monitor() -> None:
    old = (
        'dir "/var/lib/redis/sentinel-main"\n'
        "sentinel myid 0123\n"
        "sentinel monitor cache 10.0.0.1 6379 2\n"
        "sentinel known-replica cache 10.0.0.2 6379\n"
        "sentinel announce-ip 10.0.0.1\n"
        "sentinel current-epoch 3\n"
    )
    owned = "dir /var/lib/valkey/sentinel-main\nsentinel announce-ip 10.0.0.1\nsentinel sentinel-pass x\n"
    carried = carried_config(old, owned)
    assert "/var/lib/redis" not in carried and "announce-ip" not in carried
    for line in (
        "sentinel myid 0123",
        "sentinel monitor cache",
        "sentinel known-replica",
        "sentinel current-epoch 3",
    ):
        assert line in carried


def test_a_command_is_sent_again_while_the_node_loads_its_data() -> None:
    """CLUSTER NODES has no `loading` flag (COMMAND INFO): a node that loads its data after a
    full resync answers LOADING, and the cluster module must wait, not fail."""
    answers: list[object] = [redis.BusyLoadingError("loading"), redis.BusyLoadingError("loading"), "nodes"]

    def call() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert while_loading(call, timeout=5, interval=0.01) == "nodes"
    with pytest.raises(redis.BusyLoadingError):
        while_loading(lambda: (_ for _ in ()).throw(redis.BusyLoadingError("loading")), 0.05, 0.01)
    with pytest.raises(redis.ConnectionError):  # other errors are not waited on
        while_loading(lambda: (_ for _ in ()).throw(redis.ConnectionError("refused")), 5, 0.01)

# SPDX-License-Identifier: Apache-2.0
"""The modules redis_replication, redis_sentinel_monitors and
redis_cluster, run in-process against live redis-server and Sentinel
processes on loopback (tests/redis_nodes_fixture.py, tests/redis_cluster_fixture.py):
check mode reports drift and changes nothing, a run repairs it, a second run changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ansible.module_utils.basic
import pytest

from conftest import load_plugin, require
from redis_cluster_fixture import ADMIN_PASSWORD as CLUSTER_PASSWORD
from redis_cluster_fixture import LocalCluster
from redis_nodes_fixture import ADMIN, ADMIN_PASSWORD, SENTINEL_PASSWORD, Group, Node, wait

require("redis-server")


def run(module_path: str, args: dict[str, Any], capsys: pytest.CaptureFixture[str], check: bool) -> dict:
    """Run a module's main() as Ansible would, and return its JSON result."""
    module = load_plugin(module_path)
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check, "_ansible_diff": True}}
    ansible.module_utils.basic._ANSIBLE_ARGS = json.dumps(payload).encode()
    ansible.module_utils.basic._ANSIBLE_PROFILE = "legacy"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        module.main()
    result = json.loads(capsys.readouterr().out)
    assert not result.get("failed"), result
    return result


# -- replication -----------------------------------------------------------------------
REPLICATION = "plugins/modules/redis_replication.py"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Group]:
    group = Group(tmp_path, 21500, replicas=1)
    try:
        yield group.start()
    finally:
        group.stop()


def replication_args(group: Group, tmp_path: Path, managed_by: str = "ansible") -> dict[str, Any]:
    primary, replica = (str(node.port) for node in group.nodes)
    return {
        "instances": {primary: None, replica: {"host": "p", "instance": primary}},
        "primaries": {"p": {"address": "127.0.0.1", "ports": {primary: group.base_port}}},
        "managed_by": managed_by,
        "marker": str(tmp_path / "{name}.mark"),
        "socket": str(group.workdir / "{name}" / "redis.sock"),
        "admin_user": ADMIN,
        "admin_password": ADMIN_PASSWORD,
        "wait_seconds": 10,
    }


def role(node: Node) -> str:
    info = node.client().info("replication")
    return "primary" if info["role"] == "master" else f"replica of {info['master_port']}"


def test_replication_check_mode_reports_drift_and_a_run_repairs_it(
    pair: Group, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = replication_args(pair, tmp_path)
    replica = pair.nodes[1]
    assert run(REPLICATION, args, capsys, check=True)["changed"] is False
    replica.client().execute_command("REPLICAOF", "NO", "ONE")
    checked = run(REPLICATION, args, capsys, check=True)
    assert checked["changed"] is True and role(replica) == "primary"
    assert checked["diff"] == {
        "before": f"{replica.port}: primary\n",
        "after": f"{replica.port}: replica of 127.0.0.1:{pair.base_port}\n",
    }
    assert run(REPLICATION, args, capsys, check=False)["changed"] is True
    assert role(replica) == f"replica of {pair.base_port}"
    assert f"replicaof 127.0.0.1 {pair.base_port}" in (replica.directory / "redis.conf").read_text()
    assert run(REPLICATION, args, capsys, check=False)["changed"] is False
    assert ADMIN_PASSWORD not in capsys.readouterr().out


def test_replication_managed_by_sentinel_points_a_replica_once(
    pair: Group, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = replication_args(pair, tmp_path, managed_by="sentinel")
    replica = pair.nodes[1]
    replica.client().execute_command("REPLICAOF", "NO", "ONE")
    assert run(REPLICATION, args, capsys, check=False)["changed"] is True
    assert role(replica) == f"replica of {pair.base_port}"
    (tmp_path / f"{replica.port}.mark").write_text("pointed\n")
    replica.client().execute_command("REPLICAOF", "NO", "ONE")  # as Sentinel would promote it
    assert run(REPLICATION, args, capsys, check=True)["changed"] is False
    assert run(REPLICATION, args, capsys, check=False)["changed"] is False
    assert role(replica) == "primary"


# -- Sentinel monitors --------------------------------------------------------------------
MONITORS = "plugins/modules/redis_sentinel_monitors.py"


def test_sentinel_monitors_are_added_and_tuned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    group = Group(tmp_path, 21600, replicas=0)
    group.start()
    sentinel = Node(tmp_path, 21700, sentinel=True).start()
    try:
        monitor = {
            "name": "cache", "address": "127.0.0.1", "port": 21600, "quorum": 1,
            "down_after_milliseconds": 5000, "failover_timeout": 60000, "parallel_syncs": 1,
        }  # fmt: skip
        args = {
            "monitors": [monitor], "port": 21700, "password": SENTINEL_PASSWORD,
            "auth_user": ADMIN, "auth_password": ADMIN_PASSWORD,
        }  # fmt: skip
        checked = run(MONITORS, args, capsys, check=True)
        assert checked["changed"] is True and checked["diff"]["before"] == "cache: not monitored\n"
        assert sentinel.client().execute_command("SENTINEL", "MASTERS") == []
        added = run(MONITORS, args, capsys, check=False)
        assert added["changed"] is True and added["monitors"]["cache"]["monitor"][0] == "cache"
        assert "auth-pass" in added["monitors"]["cache"]["set"]
        assert run(MONITORS, args, capsys, check=False)["changed"] is False
        wait(lambda: sentinel.client().sentinel_master("cache")["flags"] == "master", 10)
        drifted = {**args, "monitors": [{**monitor, "parallel_syncs": 2}]}
        checked = run(MONITORS, drifted, capsys, check=True)
        assert checked["changed"] is True and checked["monitors"]["cache"]["set"] == ["parallel-syncs", "2"]
        assert sentinel.client().sentinel_master("cache")["parallel-syncs"] == 1
        assert run(MONITORS, drifted, capsys, check=False)["changed"] is True
        assert sentinel.client().sentinel_master("cache")["parallel-syncs"] == 2
        assert ADMIN_PASSWORD not in capsys.readouterr().out
    finally:
        sentinel.stop()
        group.stop()


# -- cluster ------------------------------------------------------------------------------
CLUSTER = "plugins/modules/redis_cluster.py"


def test_cluster_is_formed_once_then_a_new_node_is_added_and_slots_rebalanced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = LocalCluster(tmp_path)
    local.base_port = 20201
    nodes = [{"address": "127.0.0.1", "port": port} for port in local.ports[:4]]
    args = {"replicas": 0, "new_nodes_as_replicas": False, "admin_user": "default",
            "admin_password": CLUSTER_PASSWORD, "wait_seconds": 30}  # fmt: skip
    try:
        for port in local.ports[:4]:
            local.start_node(port)
        for port in local.ports[:4]:
            local.wait(lambda port=port: local.node(port).ping(), 10)
        first = {**args, "nodes": nodes[:3]}
        checked = run(CLUSTER, first, capsys, check=True)
        assert checked["changed"] is True and checked["action"] == "create"
        assert int(local.node(local.base_port).cluster("INFO")["cluster_known_nodes"]) == 1
        assert run(CLUSTER, first, capsys, check=False)["action"] == "create"
        assert run(CLUSTER, first, capsys, check=False)["changed"] is False
        grown = {**args, "nodes": nodes, "rebalance": True}
        checked = run(CLUSTER, grown, capsys, check=True)
        assert checked["changed"] is True and checked["added"] == [f"127.0.0.1:{local.ports[3]}"]
        done = run(CLUSTER, grown, capsys, check=False)
        assert done["action"] == "add" and done["rebalanced"] is True
        assert int(local.node(local.ports[3]).cluster("INFO")["cluster_known_nodes"]) == 4
        again = run(CLUSTER, grown, capsys, check=True)
        assert again["changed"] is False, again
        assert CLUSTER_PASSWORD not in capsys.readouterr().out
    finally:
        local.stop()

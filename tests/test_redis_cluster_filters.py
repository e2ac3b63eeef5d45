"""plugins/module_utils/cachewright_redis_cluster_plan.py."""

from __future__ import annotations

from conftest import load_plugin

rc = load_plugin("plugins/module_utils/cachewright_redis_cluster_plan.py")


def node(port: int, slots: int = 0, known: int = 1) -> dict:
    return {"name": f"c{port}", "address": "10.0.0.1", "port": port, "slots": slots, "known": known}


def test_node_state_from_cluster_info() -> None:
    info = "cluster_state:ok\ncluster_slots_assigned:16384\ncluster_known_nodes:6\n"
    result = {"item": {"name": "c1", "address": "10.0.0.1", "port": 7000}, "stdout": info}
    assert rc.redis_cluster_node_state(result) == {
        "name": "c1", "address": "10.0.0.1", "port": 7000, "slots": 16384, "known": 6, "state": "ok",
    }  # fmt: skip


def test_plan_forms_a_new_cluster_from_every_node() -> None:
    plan = rc.redis_cluster_plan([node(7000), node(7001)])
    assert plan["create"] and plan["add"] == [] and plan["endpoints"] == ["10.0.0.1:7000", "10.0.0.1:7001"]


def test_plan_leaves_a_formed_cluster_alone_and_adds_newcomers() -> None:
    formed = [node(7000, 5461, 6), node(7001, 0, 6)]
    assert rc.redis_cluster_plan(formed)["create"] is False and rc.redis_cluster_plan(formed)["add"] == []
    plan = rc.redis_cluster_plan([*formed, node(7002)])
    assert (
        plan["create"] is False
        and [n["port"] for n in plan["add"]] == [7002]
        and plan["seed"]["port"] == 7000
    )


def test_colocated_replicas_are_found() -> None:
    text = (
        "aaa 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
        "bbb 10.0.0.2:7001@17001 slave aaa 0 0 1 connected\n"
        "ccc 10.0.0.2:7000@17000 master - 0 0 2 connected 5461-10922\n"
        "ddd 10.0.0.2:7002@17002 slave ccc 0 0 2 connected\n"
    )
    assert rc.redis_cluster_colocated(text) == [
        "replica 10.0.0.2:7002 runs on the same host as its primary 10.0.0.2:7000"
    ]

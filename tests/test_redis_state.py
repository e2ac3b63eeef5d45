# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/cachewright_redis_state.py: the compare and plan logic of the
replication, Sentinel monitor and cluster modules, on what servers answer (no servers)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import Replica
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_restart import swap_target
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import (
    cluster_colocated,
    cluster_ghosts,
    cluster_node_state,
    cluster_plan,
    cluster_rows,
    describe_monitor,
    info_fields,
    join_plan,
    monitor_after,
    monitor_plan,
    placement_moves,
    placement_report,
    rebalance_needed,
    replica_moves,
    replication_command,
    replication_state,
    safe_args,
    sentinel_fields,
    sentinel_ghosts,
    wanted_primary,
)

PRIMARIES = {"redis-1": {"address": "10.0.0.11", "ports": {"cache": 6379}, "tls_ports": {"cache": 6380}}}
REPLICA_OF_1 = {"role": "slave", "master_host": "10.0.0.11", "master_port": 6379, "master_link_status": "up"}


# -- replication ---------------------------------------------------------------------
def test_wanted_primary_is_the_inventory_primary_at_its_plain_or_tls_port() -> None:
    replicaof = {"host": "redis-1", "instance": "cache"}
    assert wanted_primary(replicaof, PRIMARIES, tls_port_first=False) == ("10.0.0.11", 6379)
    assert wanted_primary(replicaof, PRIMARIES, tls_port_first=True) == ("10.0.0.11", 6380)
    assert wanted_primary(None, PRIMARIES, tls_port_first=False) is None
    # A host without a known address is reached by its inventory name; an unknown instance has no port.
    assert wanted_primary({"host": "redis-9", "instance": "x"}, {}, tls_port_first=False) == ("redis-9", 0)


def test_replication_state_of_a_replica_and_a_primary() -> None:
    assert replication_state(REPLICA_OF_1) == {"role": "replica", "primary": "10.0.0.11:6379", "link": "up"}
    assert replication_state({"role": "master", "connected_slaves": 2})["role"] == "primary"


@pytest.mark.parametrize(
    ("info", "wanted", "managed_by", "marked", "command"),
    [
        # Converged: nothing to send.
        (REPLICA_OF_1, ("10.0.0.11", 6379), "ansible", False, []),
        ({"role": "master"}, None, "ansible", False, []),
        # Drifted: a replica pointed elsewhere, a primary that should replicate, a replica that should not.
        (
            {**REPLICA_OF_1, "master_host": "10.0.0.99"},
            ("10.0.0.11", 6379),
            "ansible",
            False,
            ["10.0.0.11", "6379"],
        ),
        ({**REPLICA_OF_1, "master_port": 6380}, ("10.0.0.11", 6379), "ansible", False, ["10.0.0.11", "6379"]),
        ({"role": "master"}, ("10.0.0.11", 6379), "ansible", False, ["10.0.0.11", "6379"]),
        (REPLICA_OF_1, None, "ansible", False, ["NO", "ONE"]),
        # Sentinel-managed: a replica is pointed once (no marker yet), then left to Sentinel.
        ({"role": "master"}, ("10.0.0.11", 6379), "sentinel", False, ["10.0.0.11", "6379"]),
        ({"role": "master"}, ("10.0.0.11", 6379), "sentinel", True, []),
        ({**REPLICA_OF_1, "master_host": "10.0.0.12"}, ("10.0.0.11", 6379), "sentinel", True, []),
        # and a primary Sentinel has made a replica stays one.
        (REPLICA_OF_1, None, "sentinel", False, []),
    ],
)
def test_replication_command(
    info: dict[str, Any], wanted: tuple[str, int] | None, managed_by: str, marked: bool, command: list[str]
) -> None:
    assert replication_command(replication_state(info), wanted, managed_by, marked) == command


# -- Sentinel monitors ----------------------------------------------------------------
WANTED = {
    "name": "cache", "address": "10.0.0.11", "port": 6379, "quorum": 2,
    "down_after_milliseconds": 5000, "failover_timeout": 60000, "parallel_syncs": 1,
}  # fmt: skip
KNOWN_REPLY = [
    "name", "cache", "ip", "10.0.0.12", "port", "6379", "quorum", "2",
    "down-after-milliseconds", "5000", "failover-timeout", "60000", "parallel-syncs", "1",
]  # fmt: skip


def test_a_new_monitor_is_added_with_every_tunable_and_the_credentials() -> None:
    plan = monitor_plan(WANTED, None, "cw-sentinel", "secret")
    assert plan["monitor"] == ["cache", "10.0.0.11", "6379", "2"]
    assert plan["set"] == [
        "down-after-milliseconds", "5000", "failover-timeout", "60000", "parallel-syncs", "1",
        "auth-user", "cw-sentinel", "auth-pass", "secret",
    ]  # fmt: skip
    assert "secret" not in safe_args(plan["set"]) and "cw-sentinel" in safe_args(plan["set"])


def test_a_known_monitor_gets_only_what_differs_and_keeps_its_primary() -> None:
    known = sentinel_fields(KNOWN_REPLY)
    assert monitor_plan(WANTED, known, "cw-sentinel", "secret") == {"monitor": [], "set": []}
    plan = monitor_plan({**WANTED, "quorum": 3, "parallel_syncs": 2}, known, "cw-sentinel", "secret")
    assert plan == {"monitor": [], "set": ["quorum", "3", "parallel-syncs", "2"]}
    # The diff: the primary Sentinel follows (moved by a failover) stays, the tunables change.
    after = describe_monitor(WANTED, monitor_after({**WANTED, "quorum": 3}, known))
    assert after.startswith("10.0.0.12:6379 quorum=3 ") and "secret" not in after


def test_sentinel_ghosts_are_the_replicas_and_sentinels_it_finds_down() -> None:
    replicas = [
        {"ip": "10.0.0.2", "port": "6379", "flags": "slave"},
        {"ip": "10.0.0.9", "port": "6379", "flags": "s_down,slave,disconnected"},
    ]
    sentinels = [
        {"ip": "10.0.0.2", "port": "26379", "flags": "sentinel"},
        {"ip": "10.0.0.9", "port": "26379", "flags": "s_down,sentinel,disconnected"},
    ]
    assert sentinel_ghosts(replicas, sentinels) == ["replica 10.0.0.9:6379", "sentinel 10.0.0.9:26379"]
    assert sentinel_ghosts(replicas[:1], sentinels[:1]) == []
    # A host taken out: its entries go before Sentinel finds them down.
    assert sentinel_ghosts(replicas[:1], sentinels[:1], gone={"10.0.0.2"}) == [
        "replica 10.0.0.2:6379",
        "sentinel 10.0.0.2:26379",
    ]


def test_sentinel_fields_from_a_list_or_a_dict() -> None:
    assert sentinel_fields(KNOWN_REPLY)["ip"] == "10.0.0.12"
    assert sentinel_fields({"ip": "10.0.0.12", "port": 6379})["port"] == "6379"


# -- cluster ---------------------------------------------------------------------------
def node(port: int, slots: int = 0, known: int = 1) -> dict[str, Any]:
    return {"name": f"c{port}", "address": "10.0.0.1", "port": port, "slots": slots, "known": known}


def test_node_state_from_cluster_info() -> None:
    info = info_fields("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:6\r\n")
    assert cluster_node_state({"address": "10.0.0.1", "port": 7000}, info) == {
        "address": "10.0.0.1", "port": 7000, "slots": 16384, "known": 6, "state": "ok",
    }  # fmt: skip
    assert cluster_node_state({"port": 7000}, None)["state"] == "unknown"


def test_plan_forms_a_new_cluster_from_every_node() -> None:
    plan = cluster_plan([node(7000), node(7001)])
    assert plan["create"] and plan["add"] == [] and plan["endpoints"] == ["10.0.0.1:7000", "10.0.0.1:7001"]


def test_plan_leaves_a_formed_cluster_alone_and_adds_newcomers() -> None:
    formed = [node(7000, 5461, 6), node(7001, 0, 6)]
    assert cluster_plan(formed)["create"] is False and cluster_plan(formed)["add"] == []
    plan = cluster_plan([*formed, node(7002)])
    assert (
        plan["create"] is False
        and [n["port"] for n in plan["add"]] == [7002]
        and plan["seed"]["port"] == 7000
    )


NODES = (
    "aaa 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
    "bbb 10.0.0.2:7001@17001 slave aaa 0 0 1 connected\n"
    "ccc 10.0.0.2:7000@17000 master - 0 0 2 connected 5461-10922\n"
    "ddd 10.0.0.2:7002@17002 slave ccc 0 0 2 connected\n"
    "eee 10.0.0.3:7000@17000 master - 0 0 3 connected 10923-16383\n"
)


def test_colocated_replicas_are_found() -> None:
    assert cluster_colocated(NODES) == [
        "replica 10.0.0.2:7002 runs on the same host as its primary 10.0.0.2:7000"
    ]


def test_rebalance_is_needed_only_for_an_uneven_or_empty_primary() -> None:
    assert not rebalance_needed(NODES)
    with_empty = NODES + "fff 10.0.0.3:7001@17001 master - 0 0 4 connected\n"
    assert rebalance_needed(with_empty)
    uneven = NODES.replace("0-5460", "0-4000").replace("5461-10922", "4001-10922")
    assert rebalance_needed(uneven)
    # A slot being migrated ([...]) is not counted twice.
    assert not rebalance_needed(NODES.replace("0-5460", "0-5460 [5461->-ccc]"))


# A host (10.0.0.1) died and came back empty: its old nodes (aaa, fff) are failed, its
# shard's replica (bbb on 10.0.0.2) took the slots, so 10.0.0.2 runs two primaries; the
# fresh nodes (ggg, hhh) joined as replicas.
AFTER_LOSS = (
    "aaa 10.0.0.1:7000@17000 master,fail - 0 0 1 connected\n"
    "fff 10.0.0.1:7001@17001 slave,fail eee 0 0 3 connected\n"
    "bbb 10.0.0.2:7001@17001 myself,master - 0 0 4 connected 0-5460\n"
    "ccc 10.0.0.2:7000@17000 master - 0 0 2 connected 5461-10922\n"
    "ddd 10.0.0.3:7001@17001 slave ccc 0 0 2 connected\n"
    "eee 10.0.0.3:7000@17000 master - 0 0 3 connected 10923-16383\n"
    "ggg 10.0.0.1:7000@17000 slave bbb 0 0 4 connected\n"
    "hhh 10.0.0.1:7001@17001 slave eee 0 0 3 connected\n"
)
# Each node of the inventory and the ID it answers with now.
ANSWERING = {
    "10.0.0.1:7000": "ggg", "10.0.0.1:7001": "hhh", "10.0.0.2:7000": "ccc",
    "10.0.0.2:7001": "bbb", "10.0.0.3:7000": "eee", "10.0.0.3:7001": "ddd",
}  # fmt: skip


def test_ghosts_are_failed_nodes_whose_address_another_node_answers_now() -> None:
    ghosts = [{"id": "aaa", "address": "10.0.0.1:7000"}, {"id": "fff", "address": "10.0.0.1:7001"}]
    assert cluster_ghosts(AFTER_LOSS, ANSWERING) == ghosts
    # The fresh nodes answer but have not joined yet: their old selves are ghosts already.
    before_join = "\n".join(line for line in AFTER_LOSS.splitlines() if not line.startswith(("ggg", "hhh")))
    assert cluster_ghosts(before_join, ANSWERING) == ghosts
    # Not replaced yet (the host does not answer): the failed nodes may come back; they stay.
    down = {**ANSWERING, "10.0.0.1:7000": None, "10.0.0.1:7001": None}
    assert cluster_ghosts(before_join, down) == []
    # Back under another address: the old one is in no inventory.
    moved = {a.replace("10.0.0.1:", "10.0.0.9:"): i for a, i in ANSWERING.items()}
    assert cluster_ghosts(AFTER_LOSS, moved) == ghosts
    # A failed node that still serves slots is never forgotten.
    serving = AFTER_LOSS.replace("master,fail - 0 0 1 connected", "master,fail - 0 0 1 connected 0-1")
    assert cluster_ghosts(serving, ANSWERING) == ghosts[1:]


def test_bunched_primaries_are_spread_by_failing_over_to_a_replica_on_an_idle_host() -> None:
    report = placement_report(cluster_rows(AFTER_LOSS))
    assert report["primaries_by_host"] == {"10.0.0.1": 0, "10.0.0.2": 2, "10.0.0.3": 1}
    assert not report["survives_host_loss"]
    assert placement_moves(AFTER_LOSS) == [{"replica": "10.0.0.1:7000", "primary": "10.0.0.2:7001"}]
    # After that CLUSTER FAILOVER: one primary a host, each with a replica elsewhere.
    spread = AFTER_LOSS.replace(
        "bbb 10.0.0.2:7001@17001 myself,master - 0 0 4 connected 0-5460",
        "bbb 10.0.0.2:7001@17001 myself,slave ggg 0 0 4 connected",
    ).replace(
        "ggg 10.0.0.1:7000@17000 slave bbb 0 0 4 connected",
        "ggg 10.0.0.1:7000@17000 master - 0 0 4 connected 0-5460",
    )
    assert placement_moves(spread) == []
    after = placement_report(cluster_rows(spread))
    assert after["primaries_by_host"] == {"10.0.0.1": 1, "10.0.0.2": 1, "10.0.0.3": 1}
    assert after["survives_host_loss"], after


# Three hosts, a primary and a replica on each (each replica on another host).
SPREAD = (
    "aaa 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
    "bbb 10.0.0.2:7000@17000 master - 0 0 2 connected 5461-10922\n"
    "ccc 10.0.0.3:7000@17000 master - 0 0 3 connected 10923-16383\n"
    "ddd 10.0.0.1:7001@17001 slave ccc 0 0 3 connected\n"
    "eee 10.0.0.2:7001@17001 slave aaa 0 0 1 connected\n"
    "fff 10.0.0.3:7001@17001 slave bbb 0 0 2 connected\n"
)


def test_a_new_host_adds_a_shard_and_a_replica_of_another_host() -> None:
    steps = join_plan(SPREAD, ["10.0.0.4:7000", "10.0.0.4:7001"], 1)
    assert steps == [
        {"node": "10.0.0.4:7000", "as": "primary"},
        {"node": "10.0.0.4:7001", "as": "replica", "primary": "10.0.0.1:7000"},
    ]
    # Two new hosts: a primary on each first, then replicas, none on its primary's host.
    steps = join_plan(SPREAD, ["10.0.0.4:7000", "10.0.0.4:7001", "10.0.0.5:7000", "10.0.0.5:7001"], 1)
    assert [s["node"] for s in steps if s["as"] == "primary"] == ["10.0.0.4:7000", "10.0.0.5:7000"]
    assert all(s["primary"].split(":")[0] != s["node"].split(":")[0] for s in steps if s["as"] == "replica")


def test_a_new_primary_without_a_replica_takes_one_from_a_primary_with_two() -> None:
    grown = SPREAD + (
        "ggg 10.0.0.4:7000@17000 master - 0 0 5 connected\n"
        "hhh 10.0.0.4:7001@17001 slave aaa 0 0 1 connected\n"
    )
    assert replica_moves(grown) == []  # the new primary serves no slot yet
    grown = grown.replace(
        "10.0.0.4:7000@17000 master - 0 0 5 connected", "10.0.0.4:7000@17000 master - 0 0 5 connected 0-100"
    )
    # aaa has two replicas (eee on 10.0.0.2, hhh on 10.0.0.4): eee moves, hhh shares ggg's host.
    assert replica_moves(grown) == [{"replica": "10.0.0.2:7001", "primary": "10.0.0.4:7000"}]
    assert replica_moves(SPREAD) == []
    # The cluster itself moved hhh to the new primary on its own host (replica migration):
    # hhh goes to a primary elsewhere, then the new primary takes a spare replica.
    colocated = grown.replace("hhh 10.0.0.4:7001@17001 slave aaa", "hhh 10.0.0.4:7001@17001 slave ggg")
    moves = replica_moves(colocated)
    assert moves[0]["replica"] == "10.0.0.4:7001" and not moves[0]["primary"].startswith("10.0.0.4")
    assert moves[1]["primary"] == "10.0.0.4:7000" and not moves[1]["replica"].startswith("10.0.0.4")


def test_nodes_of_a_replaced_host_join_as_replicas_of_the_shards_without_one() -> None:
    # 10.0.0.3 died: its primary ccc was failed over to ddd (10.0.0.1), its replica fff is gone.
    promoted = "ddd 10.0.0.1:7001@17001 master - 0 0 4 connected 10923-16383"
    lost = (
        SPREAD.replace("ccc 10.0.0.3:7000@17000 master - 0 0 3 connected 10923-16383", "")
        .replace("ddd 10.0.0.1:7001@17001 slave ccc 0 0 3 connected", promoted)
        .replace("fff 10.0.0.3:7001@17001 slave bbb 0 0 2 connected", "")
    )
    steps = join_plan(lost, ["10.0.0.3:7000", "10.0.0.3:7001"], 1)
    assert [s["as"] for s in steps] == ["replica", "replica"]
    assert sorted(s["primary"] for s in steps) == ["10.0.0.1:7001", "10.0.0.2:7000"]


def test_a_primary_without_a_replica_on_another_host_does_not_survive_its_host() -> None:
    assert placement_report(cluster_rows(NODES))["without_replica"] == ["10.0.0.2:7000", "10.0.0.3:7000"]
    # No replica anywhere to take the role: nothing to move, and it is reported.
    assert placement_moves(NODES.replace("10.0.0.3:7000", "10.0.0.2:7005")) == []


# -- the restart path's choice of replica ---------------------------------------------------
def test_a_primary_hands_its_role_to_a_replica_it_can_follow_back() -> None:
    newer = Replica("10.0.0.13", 6379, "online", 100)
    same = Replica("10.0.0.12", 6379, "online", 100)
    versions = {newer.address: "8.0.2", same.address: "7.0.15"}
    # Listed first and as advanced, the newer replica is still passed over.
    assert swap_target([newer, same], versions, "7.0.15") is same
    assert swap_target([newer, Replica("10.0.0.12", 6379, "wait_bgsave", 200)], versions, "7.0.15") is newer
    assert swap_target([same, Replica("10.0.0.14", 6379, "online", 150)], versions, "7.0.15").offset == 150

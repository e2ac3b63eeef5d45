# SPDX-License-Identifier: Apache-2.0
"""plugins/plugin_utils/model.py: the one model the server roles and the Django
settings planner share. The server roles' defaults are what the model assumes of a host that
does not set them, so that the settings follow what was deployed."""

from __future__ import annotations

import yaml
from ansible_collections.cachewright.cache.plugins.plugin_utils import model
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT


def defaults(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())


def test_the_server_roles_defaults_are_the_models() -> None:
    assert defaults("redis_server")["redis_server_instances"] == model.REDIS_DEFAULT_INSTANCES
    assert defaults("redis_server")["redis_server_databases"] == model.REDIS_DATABASES
    assert defaults("redis_sentinel")["redis_sentinel_port"] == model.SENTINEL_PORT
    assert defaults("memcached")["memcached_instances"] == model.MEMCACHED_DEFAULT_INSTANCES


def test_a_host_without_variables_is_read_with_the_roles_defaults() -> None:
    redis = model.redis_client_host("cache-1", {})
    assert redis["address"] == "cache-1"
    assert [(i["name"], i["port"], i["tls_port"], i["persistence"]) for i in redis["instances"]] == [
        ("cache", 6379, None, "none")
    ]
    assert redis["sentinel"]["port"] == model.SENTINEL_PORT
    memcached = model.memcached_client_host("mc-1", {"ansible_host": "10.0.0.5"})
    assert memcached["address"] == "10.0.0.5"
    assert memcached["instances"] == [{"name": "main", "port": 11211, "tls": False, "sasl": False}]


def test_the_roles_address_variable_wins_over_ansible_host() -> None:
    hv = {"memcached_address": "mc.internal", "ansible_host": "10.0.0.5"}
    assert model.client_address(hv, "mc-1", "memcached_address") == "mc.internal"


def test_peers_use_the_default_route_address_unless_told() -> None:
    facts = {"ansible_facts": {"default_ipv4": {"address": "10.1.0.7"}}}
    assert model.peer_address(facts, "redis-1") == "10.1.0.7"
    assert (
        model.peer_address({**facts, "redis_server_address": "redis-1.internal"}, "redis-1")
        == "redis-1.internal"
    )
    assert model.peer_address({}, "redis-1") == "redis-1"


def test_ports_with_and_without_tls() -> None:
    assert model.redis_ports(6379, None, tls=False, keep_plain=False) == (6379, 0)
    assert model.redis_ports(6379, None, tls=True, keep_plain=False) == (0, 6379)
    assert model.redis_ports(6379, 16379, tls=True, keep_plain=True) == (6379, 16379)


def test_the_purpose_gives_the_persistence() -> None:
    hv = {"redis_server_instances": [{"name": "s", "port": 6380, "purpose": "sessions"}]}
    assert model.redis_client_host("r", hv)["instances"][0]["persistence"] == "aof"


@given(st.integers(min_value=-10, max_value=100))
def test_integer_problem_accepts_ints_and_digit_strings_in_bounds(value: int) -> None:
    ok = 0 <= value <= 50
    assert (model.integer_problem(value, 0, 50) is None) == ok
    if value >= 0:
        assert (model.integer_problem(str(value), 0, 50) is None) == ok


def test_integer_problem_names_what_is_wrong() -> None:
    assert model.integer_problem(True, 0, 5) == "True is not an integer"
    assert model.integer_problem("x", 0, 5) == "'x' is not an integer"
    assert model.integer_problem(9, 0, 5) == "9 is not between 0 and 5"
    assert model.number_problem("3", True, 0, 5) == "'3' is not an integer"
    assert model.number_problem(0.5, False, 0, 5) is None


def test_group_addresses_as_a_firewall_sees_them() -> None:
    groups = {"app": ["web-1", "web-2"], "redis": ["r-1", "web-1"]}
    hostvars = {"web-1": {"ansible_host": "10.0.0.1"}, "web-2": {}, "r-1": {"ansible_host": "10.0.0.9"}}
    assert model.group_addresses(["app", "redis", "missing"], groups, hostvars) == [
        "10.0.0.1",
        "web-2",
        "10.0.0.9",
    ]
    assert model.group_addresses([], groups, hostvars) == []


def test_what_a_replica_knows_of_its_primaries() -> None:
    hostvars = {
        "r-1": {
            "ansible_facts": {"default_ipv4": {"address": "10.1.0.7"}},
            "redis_server_instances": [
                {"name": "cache", "port": 6379, "tls_port": 16379},
                {"name": "s", "port": 6380},
            ],
        }
    }
    assert model.redis_primaries(["r-1"], hostvars) == {
        "r-1": {
            "address": "10.1.0.7",
            "ports": {"cache": 6379, "s": 6380},
            "tls_ports": {"cache": 16379, "s": 0},
        }
    }


def test_rdb_formats_of_the_servers_debian_ships() -> None:
    assert model.rdb_format("redis", "7.0.15") == 10  # Debian 12
    assert model.rdb_format("redis", "7.2.4") == 11
    assert model.rdb_format("redis", "8.0.2") == 12  # Debian 13
    assert model.rdb_format("valkey", "8.0.1") == 11  # bookworm-backports
    assert model.rdb_format("valkey", "8.1.1") == 11  # Debian 13
    assert model.rdb_format("valkey", "9.0.0") == 80


def test_which_replica_can_follow_which_primary() -> None:
    redis7, redis8 = {"flavor": "redis", "version": "7.0.15"}, {"flavor": "redis", "version": "8.0.2"}
    valkey80, valkey81 = {"flavor": "valkey", "version": "8.0.1"}, {"flavor": "valkey", "version": "8.1.1"}
    # The migration's path on Debian 12: Valkey replicas of a Redis 7.0 primary.
    assert model.replication_problem(redis7, valkey80) is None
    assert model.replication_problem(redis7, valkey81) is None
    assert model.replication_problem(valkey80, valkey81) is None
    assert model.replication_problem(redis7, redis8) is None
    # Seen on Debian 13: "Can't handle RDB format version 12" on every full sync.
    assert model.replication_problem(redis8, valkey81) == (
        "valkey 8.1.1 cannot load the data of redis 8.0.2 (RDB format 12)"
    )
    # Older cannot read newer.
    assert model.replication_problem(redis8, redis7) is not None
    assert model.replication_problem(valkey80, redis7) is not None


@given(
    st.sampled_from(model.REDIS_FLAVORS), st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True)
)
def test_a_server_always_loads_its_own_data(flavor: str, version: str) -> None:
    same = {"flavor": flavor, "version": version}
    assert model.replication_problem(same, same) is None


def test_server_label_by_major_minor() -> None:
    assert model.server_label({"flavor": "valkey", "version": "8.1.1"}) == "valkey 8.1"
    assert model.server_label({}) == "unknown"

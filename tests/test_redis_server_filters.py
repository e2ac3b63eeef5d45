# SPDX-License-Identifier: Apache-2.0
"""plugins/plugin_utils/redis_server_input.py: defaults, problems, ACL."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from conftest import load_plugin

rs = load_plugin("plugins/plugin_utils/redis_server_input.py")
acl = load_plugin("plugins/plugin_utils/redis_acl.py")
drill = load_plugin("plugins/plugin_utils/redis_server_drill.py")

SETTINGS: dict[str, Any] = {
    "redis_server_memory_percent": 50,
    "redis_server_databases": 16,
    "redis_server_extra_config": {},
    "redis_server_tls": False,
    "redis_server_tls_keep_plain_port": False,
    "redis_server_tls_certificate": "",
    "redis_server_tls_private_key": "",
    "redis_server_tls_ca_certificate": "",
    "redis_server_admin_user": "cw-admin",
    "redis_server_admin_password": "test-only-admin-secret",
    "redis_server_replication_user": "cw-replication",
    "redis_server_replication_password": "",
    "redis_server_users": [{"name": "app", "password": "test-only-app-secret", "keys": ["app:*"]}],
}
INVENTORY = {"r1": ["cache", "sessions"], "r2": ["cache"]}


def settings(**changes: Any) -> dict[str, Any]:
    return {**SETTINGS, **changes}


def problems(
    instances: list[dict[str, Any]], host: str = "r1", memtotal: int = 4096, **changes: Any
) -> list[str]:
    return rs.redis_server_problems(instances, settings(**changes), memtotal, host, INVENTORY)


def test_purposes_set_policy_and_persistence() -> None:
    eff = rs.redis_server_effective(
        [{"name": "cache", "port": 1}, {"name": "sessions", "port": 2, "purpose": "sessions"}], SETTINGS, 8000
    )
    assert (eff[0]["maxmemory_policy"], eff[0]["persistence"]) == ("allkeys-lru", "none")
    assert (eff[1]["maxmemory_policy"], eff[1]["persistence"]) == ("volatile-lru", "aof")
    assert eff[0]["maxmemory_mb"] == eff[1]["maxmemory_mb"] == 2000


def test_instance_values_beat_purpose_defaults() -> None:
    eff = rs.redis_server_effective(
        [
            {
                "name": "s",
                "port": 1,
                "purpose": "sessions",
                "maxmemory_policy": "noeviction",
                "maxmemory_mb": 64,
            }
        ],
        SETTINGS,
        8000,
    )
    assert eff[0]["maxmemory_policy"] == "noeviction" and eff[0]["maxmemory_mb"] == 64


def test_tls_only_moves_the_port_to_tls() -> None:
    eff = rs.redis_server_effective([{"name": "c", "port": 6390}], settings(redis_server_tls=True), 8000)
    assert (eff[0]["redis_port"], eff[0]["redis_tls_port"]) == (0, 6390)
    both = rs.redis_server_effective(
        [{"name": "c", "port": 6379, "tls_port": 6390}],
        settings(redis_server_tls=True, redis_server_tls_keep_plain_port=True),
        8000,
    )
    assert (both[0]["redis_port"], both[0]["redis_tls_port"]) == (6379, 6390)


def test_good_input_has_no_problems() -> None:
    assert problems([{"name": "cache", "port": 6379}]) == []


def test_replica_of_another_host_is_fine_with_a_replication_password() -> None:
    replica = [{"name": "cache", "port": 6379, "replicaof": {"host": "r1", "instance": "cache"}}]
    assert problems(replica, host="r2", redis_server_replication_password="test-only-repl-secret") == []


@pytest.mark.parametrize(
    ("instances", "changes", "expected"),
    [
        (
            [{"name": "a", "port": 1}, {"name": "b", "port": 1}],
            {},
            "redis_server_instances[1].port: 1 is already used",
        ),
        (
            [{"name": "a", "port": 1, "cluster_enabled": True}, {"name": "b", "port": 10001}],
            {},
            "cluster bus",
        ),
        (
            [{"name": "cache", "port": 1, "replicaof": {"host": "r1", "instance": "cache"}}],
            {},
            "cannot replicate itself",
        ),
        (
            [{"name": "a", "port": 1, "replicaof": {"host": "r9", "instance": "cache"}}],
            {},
            "'r9' is not in the inventory",
        ),
        (
            [{"name": "a", "port": 1, "replicaof": {"host": "r2", "instance": "nope"}}],
            {},
            "has no instance 'nope'",
        ),
        (
            [{"name": "a", "port": 1, "replicaof": {"host": "r2", "instance": "cache"}}],
            {},
            "redis_server_replication_password",
        ),
        ([{"name": "a", "port": 1}], {"redis_server_tls": True}, "redis_server_tls_certificate: required"),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_users": [{"name": "bad user", "password": "x", "keys": ["a:*"]}]},
            "redis_server_users[0].name",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_users": [{"name": "app", "password": "", "keys": ["a:*"]}]},
            "redis_server_users[0].password: required",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_users": [{"name": "app", "password": "test-only has space", "keys": ["a:*"]}]},
            "redis_server_users[0].password: has characters the servers' files or the clients' URLs",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_users": [{"name": "app", "password": "x", "keys": ["a:*"]}]},
            "redis_server_users[0].password: 1 characters; a password has 16 to 128",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_admin_password": "test-only-admin@secret"},
            "redis_server_admin_password: has characters",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_sentinel_password": "short"},
            "redis_server_sentinel_password: 5 characters",
        ),
        ([{"name": "a", "port": 1, "maxmemory_mb": 999999}], {}, "more than this host's"),
        ([{"name": "a", "port": 1, "maxmemory_policy": "lru-please"}], {}, "is not an eviction policy"),
        ([{"name": "a", "port": 1, "purpose": "misc"}], {}, "purpose: 'misc'"),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_admin_password": ""},
            "redis_server_admin_password: required",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_tls": True, "redis_server_tls_keep_plain_port": True},
            "tls_port: required",
        ),
        (
            [{"name": "a", "port": 1, "maxmemory_mb": "ten"}],
            {},
            "instances[0].maxmemory_mb: 'ten' is not an integer",
        ),
        ([{"name": "a", "port": True}], {}, "redis_server_instances[0].port: True is not a TCP port"),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_users": [{"name": "app", "password": "x", "keys": ["app:*", "a b"]}]},
            "redis_server_users[0].keys: 'a b' is not one pattern",
        ),
        (
            [{"name": "a", "port": 1}],
            {
                "redis_server_users": [
                    {"name": "app", "password": "x", "keys": ["a:*"], "commands": "+get, +set"}
                ]
            },
            "redis_server_users[0].commands: '+get, +set' is not a list of ACL command rules",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_databases": True},
            "redis_server_databases: True is not an integer",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_memory_percent": 95},
            "memory_percent: 95 is not between 1 and 90",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_extra_config": {"requirepass": "x"}},
            "redis_server_extra_config.requirepass: set by the role (redis_server_users",
        ),
        (
            [{"name": "a", "port": 1, "extra_config": {"Rename-Command": "CONFIG ''"}}],
            {},
            "redis_server_instances[0].extra_config.Rename-Command: set by the role",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_extra_config": {"loadmodule": "/tmp/x.so"}},
            "loadmodule: set by the role (closed: they run code",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_extra_config": {"maxclients 10\nrequirepass": "x"}},
            "is not a redis.conf directive name",
        ),
        (
            [{"name": "a", "port": 1}],
            {"redis_server_extra_config": {"maxclients": "10\nrequirepass x"}},
            "redis_server_extra_config.maxclients: '10\\nrequirepass x' is not a single-line value",
        ),
    ],
)
def test_bad_input_names_the_variable(
    instances: list[dict[str, Any]], changes: dict[str, Any], expected: str
) -> None:
    found = problems(instances, **changes)
    assert any(expected in p for p in found), found


def test_extra_config_takes_tuning_the_role_does_not_own() -> None:
    extra = {"latency-monitor-threshold": "100", "timeout": 300, "maxclients": 20000}
    assert problems([{"name": "a", "port": 1, "extra_config": extra}], redis_server_extra_config=extra) == []


def test_acl_switches_the_default_user_off_and_hashes_passwords() -> None:
    lines = acl.redis_server_acl("cache", settings(redis_server_replication_password="test-only-replication"))
    # Off and without a password (nobody can be it), with every permission so that an AOF
    # replayed as the default user keeps its transactions (redis/redis#14541).
    assert lines[0] == "user default off resetpass ~* &* +@all"
    assert "test-only-admin-secret" not in "\n".join(lines) and "test-only-app-secret" not in "\n".join(lines)
    digest = hashlib.sha256(b"test-only-app-secret").hexdigest()
    app = next(line for line in lines if line.startswith("user app "))
    assert f"#{digest}" in app and "~app:*" in app and app.endswith("-@all +@all -@dangerous")
    assert any(line.startswith("user cw-replication on") and "+psync" in line for line in lines)


def test_acl_user_limited_to_some_instances() -> None:
    users = [{"name": "only", "password": "p", "keys": ["x:*"], "instances": ["sessions"]}]
    assert not any(
        "only" in line for line in acl.redis_server_acl("cache", settings(redis_server_users=users))
    )
    sessions = acl.redis_server_acl("sessions", settings(redis_server_users=users))
    assert any("only" in line for line in sessions)


def test_sentinel_user_gets_only_what_sentinel_needs() -> None:
    lines = acl.redis_server_acl(
        "cache", settings(redis_server_sentinel_user="cw-sentinel", redis_server_sentinel_password="s")
    )
    sentinel = next(line for line in lines if line.startswith("user cw-sentinel on"))
    assert (
        "-@all" in sentinel
        and "+slaveof" in sentinel
        and "+config|rewrite" in sentinel
        and "~" not in sentinel
    )
    assert not any("cw-sentinel" in line for line in acl.redis_server_acl("cache", SETTINGS))


def test_hosts_with_fewer_primaries_restart_first() -> None:
    def host(names: list[str], primaries: list[str]) -> dict[str, Any]:
        read = {n: {"role": "primary" if n in primaries else "replica"} for n in names}
        return {"__redis_server_restart": names, "__redis_server_restart_state": {"instances": read}}

    hostvars = {
        "r1": host(["cache", "sessions"], ["cache", "sessions"]),
        "r2": host(["cache", "sessions"], []),
        "r3": host(["cache"], ["cache"]),
        "r4": host([], []),
    }
    assert drill.redis_server_restart_order(hostvars, ["r1", "r2", "r3", "r4"]) == ["r2", "r3", "r1"]


def test_the_drill_report_says_what_switched_and_what_failed() -> None:
    done = {
        "item": ["r1", "cache"], "changed": True, "group": "cache", "via": "sentinel", "old": "10.0.0.1:6379",
        "new": "10.0.0.2:6379", "held_seconds": 1.2, "refused_seconds": 1.4, "seconds": 3.0,
    }  # fmt: skip
    failed = {"item": ["r2", "cluster-a"], "failed": True, "msg": "no healthy replica"}
    put_back = {**done, "item": done, "old": "10.0.0.2:6379", "new": "10.0.0.1:6379"}
    lines = drill.redis_server_drill_report([done, failed], [put_back])
    assert lines[0].startswith("cache (sentinel): 10.0.0.1:6379 -> 10.0.0.2:6379, writes held 1.2 s")
    assert "client refused for at most 1.4 s" in lines[0]
    assert lines[1] == "r2 cluster-a: fail-over FAILED: no healthy replica"
    assert lines[2].startswith("put back: cache (sentinel): 10.0.0.2:6379 -> 10.0.0.1:6379")
    assert drill.redis_server_drill_row(put_back)["host"] == "r1"


OLD_APP = "test-only-app-old-secret"


def _hash(password: str) -> str:
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def _running(app_password: str = OLD_APP, *extra: str) -> dict[str, str]:
    """The aclfile an instance holds now: lines as the role wrote them, the app user with
    `app_password` (and any `extra` passwords beside it)."""
    lines = acl.redis_server_acl(
        "cache",
        settings(redis_server_users=[{**SETTINGS["redis_server_users"][0], "password": app_password}]),
    )
    if extra:
        lines = [
            line.replace(" resetkeys", " " + " ".join(_hash(p) for p in extra) + " resetkeys", 1)
            if line.startswith("user app ") else line
            for line in lines
        ]  # fmt: skip
    return {"cache": "\n".join(lines) + "\n"}


def _app_line(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("user app "))


def test_a_plain_run_refuses_a_changed_app_password_and_names_the_playbook() -> None:
    found = rs.redis_server_problems(
        [{"name": "cache", "port": 6379}], SETTINGS, 4096, "r1", INVENTORY, current=_running()
    )
    assert found == [
        "redis_server_users[0].password: differs from the password user 'app' of instance 'cache' holds now; "
        "change it with playbooks/rotate_passwords.yml, which puts it beside the old one, moves the app "
        "hosts to it and then removes the old one"
    ]
    # The same password, a new instance (no aclfile yet) and a new user are all fine.
    same = _running("test-only-app-secret")
    assert not rs.redis_server_problems(
        [{"name": "cache", "port": 6379}], SETTINGS, 4096, "r1", INVENTORY, current=same
    )
    assert not rs.redis_server_problems(
        [{"name": "cache", "port": 6379}], SETTINGS, 4096, "r1", INVENTORY, current={}
    )


def test_the_servers_own_passwords_are_refused_even_in_a_rotation() -> None:
    running = _running("test-only-app-secret")
    changed = settings(redis_server_admin_password="test-only-admin-other")
    for rotation in ("", "add", "finish"):
        found = rs.redis_server_password_problems([{"name": "cache"}], changed, running, rotation)
        assert (
            len(found) == 1
            and found[0].startswith("redis_server_admin_password: differs")
            and ("does not rotate" in found[0])
        )


def test_a_rotation_adds_the_new_password_beside_the_old_then_removes_the_old() -> None:
    running = _running()
    assert not rs.redis_server_password_problems([{"name": "cache"}], SETTINGS, running, "add")
    added = _app_line(acl.redis_server_acl("cache", SETTINGS, running["cache"], "add"))
    assert f"on {_hash(OLD_APP)} {_hash('test-only-app-secret')} resetkeys" in added
    # Cut off after the first step: a plain run keeps both, and changes nothing.
    both = {"cache": "\n".join(acl.redis_server_acl("cache", SETTINGS, running["cache"], "add"))}
    assert not rs.redis_server_password_problems([{"name": "cache"}], SETTINGS, both, "")
    assert acl.redis_server_acl("cache", SETTINGS, both["cache"], "") == acl.redis_server_acl(
        "cache", SETTINGS, both["cache"], "add"
    )
    finished = _app_line(acl.redis_server_acl("cache", SETTINGS, both["cache"], "finish"))
    assert _hash(OLD_APP) not in finished and f"on {_hash('test-only-app-secret')} resetkeys" in finished


def test_a_rotation_phase_must_be_known() -> None:
    found = rs.redis_server_password_problems([{"name": "cache"}], SETTINGS, {}, "now")
    assert found and found[0].startswith("redis_server_password_rotation:")

# SPDX-License-Identifier: Apache-2.0
"""Settings and users a running Redis takes live: the role's file as it is and as it will be are sorted
into directives set with CONFIG SET and those that need a restart
(plugins/plugin_utils/redis_server_config.py, rendered from the role's own template), and
redis_instances state=configured sets them on a running primary and its replica, on loopback,
without a restart; a value the server refuses fails the module, naming the directive. Users
reach the running instances one by one (state=users), and a restart waits for an instance
that rewrites its AOF."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ansible.module_utils.basic
import jinja2
import pytest
import redis

from conftest import ROOT, load_plugin, require
from redis_nodes_fixture import ADMIN, ADMIN_PASSWORD, Group

config = load_plugin("plugins/plugin_utils/redis_server_config.py")
INSTANCES = "plugins/modules/redis_instances.py"
TEMPLATE = ROOT / "roles" / "redis_server" / "templates" / "instance.conf.j2"

# What the role's template reads, as the role gives it for one instance.
ROLE_VARS: dict[str, Any] = {
    "ansible_managed": "Managed by Ansible (test)",
    "redis_server_bind": ["127.0.0.1"],
    "redis_server_address": "127.0.0.1",
    "redis_server_cluster_node_timeout": 5000,
    "redis_server_tls_auth_clients": "optional",
    "redis_server_replication_password": "test-only-replication",
    "redis_server_replication_user": "cw-replication",
    "__redis_server_socket": "/run/redis/{name}.sock",
    "__redis_server_tls_dir": "/etc/redis/cachewright/tls",
    "__redis_server_data_dir": "/var/lib/redis",
    "__redis_server_conf_dir": "/etc/redis/cachewright",
    "__redis_server_unit": "redis-server@{name}.service",
    "__redis_server_main_config": "/etc/redis/redis-{name}.conf",
    "__redis_server_flavor": {"pidfile": "/run/redis/{name}.pid"},
}
INSTANCE: dict[str, Any] = {
    "name": "cache",
    "redis_port": 6379,
    "tls": False,
    "databases": 16,
    "purpose": "cache",
    "maxmemory_mb": 256,
    "maxmemory_policy": "allkeys-lru",
    "persistence": "none",
    "cluster_enabled": False,
    "extra_config": {},
}


def render(**instance: Any) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE.parent), keep_trailing_newline=True)
    return env.get_template(TEMPLATE.name).render(**ROLE_VARS, item={**INSTANCE, **instance})


def test_a_runtime_setting_is_set_live_and_a_port_restarts() -> None:
    now = render()
    assert config.redis_server_config_change(now, render()) == {"live": {}, "restart": []}
    assert config.redis_server_config_change(now, render(extra_config={"hz": "15"})) == {
        "live": {"hz": "15"},
        "restart": [],
    }
    changed = render(maxmemory_mb=512, maxmemory_policy="allkeys-lfu", persistence="rdb")
    assert config.redis_server_config_change(now, changed) == {
        "live": {"maxmemory": "512mb", "maxmemory-policy": "allkeys-lfu", "save": "3600 1 300 100 60 10000"},
        "restart": [],
    }
    # A port, a number of databases and a directive taken out need a restart.
    assert config.redis_server_config_change(now, render(redis_port=6390))["restart"] == ["port"]
    assert config.redis_server_config_change(now, render(databases=32))["restart"] == ["databases"]
    with_hz = render(extra_config={"hz": "15"})
    assert config.redis_server_config_change(with_hz, now) == {"live": {}, "restart": ["hz"]}
    # A first file: the instance starts (or restarts) with it.
    assert config.redis_server_config_change("", now)["restart"] == ["(new file)"]


def test_an_instance_with_any_restart_directive_restarts_with_all_its_changes() -> None:
    now = render()
    plan = config.redis_server_config_plan(
        {"cache": now, "sessions": now, "temp": now},
        {
            "cache": render(extra_config={"hz": "15"}),
            "sessions": render(extra_config={"hz": "15", "io-threads": "2"}),
            "temp": now,
        },
    )
    assert plan == {"live": {"cache": {"hz": "15"}}, "restart": {"sessions": ["io-threads"]}}
    # An instance without a file yet starts with its first one: neither set live nor restarted.
    assert config.redis_server_config_plan({}, {"cache": now}) == {"live": {}, "restart": {}}
    # Quoting and comments are the file's, not the setting's.
    quoted = now.replace('save ""', "save ''") + "# a comment\n"
    assert config.redis_server_config_change(now, quoted) == {"live": {}, "restart": []}


# -- live, on loopback ------------------------------------------------------------------------
@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Group]:
    require("redis-server")
    group = Group(tmp_path, 21520, replicas=1)
    try:
        yield group.start()
    finally:
        group.stop()


def run(args: dict[str, Any], capsys: pytest.CaptureFixture[str], check: bool) -> dict[str, Any]:
    """redis_instances' main() as Ansible runs it; its JSON result (failed or not)."""
    module = load_plugin(INSTANCES)
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check}}
    ansible.module_utils.basic._ANSIBLE_ARGS = json.dumps(payload).encode()
    ansible.module_utils.basic._ANSIBLE_PROFILE = "legacy"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def configured(group: Group, settings: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "instances": [str(node.port) for node in group.nodes],
        "state": "configured",
        "settings": settings,
        "socket": str(group.workdir / "{name}" / "redis.sock"),
        "admin_user": ADMIN,
        "admin_password": ADMIN_PASSWORD,
    }


def test_settings_are_set_live_on_a_primary_and_its_replica_without_a_restart(
    pair: Group, capsys: pytest.CaptureFixture[str]
) -> None:
    primary, replica = pair.nodes
    run_ids = [node.client().info("server")["run_id"] for node in pair.nodes]
    wanted = {"hz": "15", "slowlog-log-slower-than": "5000"}
    args = configured(pair, {str(node.port): wanted for node in pair.nodes})

    checked = run(args, capsys, check=True)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert checked["instances"][str(primary.port)]["action"] == "would set"
    assert checked["instances"][str(primary.port)]["settings"]["hz"] == {"before": "10", "after": "15"}
    assert f"{primary.port}: hz 10\n" in checked["diff"]["before"]
    assert f"{primary.port}: hz 15\n" in checked["diff"]["after"]
    assert primary.client().config_get("hz")["hz"] == "10"  # check mode sets nothing

    done = run(args, capsys, check=False)
    assert done["changed"] is True and not done.get("failed"), done
    for node in pair.nodes:
        assert node.client().config_get("hz")["hz"] == "15"
        assert node.client().config_get("slowlog-log-slower-than")["slowlog-log-slower-than"] == "5000"
    assert [node.client().info("server")["run_id"] for node in pair.nodes] == run_ids
    assert replica.client().info("replication")["master_link_status"] == "up"
    assert ADMIN_PASSWORD not in json.dumps(done)


def test_a_value_the_server_refuses_fails_naming_the_directive(
    pair: Group, capsys: pytest.CaptureFixture[str]
) -> None:
    primary = pair.nodes[0]
    done = run(configured(pair, {str(primary.port): {"hz": "fast"}}), capsys, check=False)
    assert done.get("failed"), done
    assert "CONFIG SET hz 'fast' refused" in done["msg"], done["msg"]
    assert primary.client().config_get("hz")["hz"] == "10"
    # An instance with nothing to set, or that does not run, is left alone.
    quiet = run(configured(pair, {}), capsys, check=False)
    assert quiet["changed"] is False and not quiet.get("failed"), quiet


def test_users_are_set_one_by_one_on_a_primary_and_its_replica_without_a_restart(
    pair: Group, capsys: pytest.CaptureFixture[str]
) -> None:
    """state=users: each instance takes the users of its aclfile (ACL SETUSER ... reset,
    ACL DELUSER for one taken out), with no restart and the replication link kept."""
    run_ids = [node.client().info("server")["run_id"] for node in pair.nodes]
    acl = pair.workdir / "{name}" / "users.acl"
    app = "user cwapp on >test-only-app-password-1 >test-only-app-password-2 resetkeys ~app:* -@all +@all\n"
    for node in pair.nodes:
        path = node.directory / "users.acl"
        path.write_text(path.read_text() + app)
    args = {**configured(pair, {}), "state": "users", "acl_file": str(acl)}

    checked = run(args, capsys, check=True)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert "cwapp" not in pair.nodes[0].client().acl_users()
    done = run(args, capsys, check=False)
    assert done["changed"] is True and not done.get("failed"), done
    for node in pair.nodes:
        for password in ("test-only-app-password-1", "test-only-app-password-2"):
            app_client = redis.Redis(host="127.0.0.1", port=node.port, username="cwapp", password=password)
            assert app_client.set("app:k", "v") if node is pair.nodes[0] else app_client.ping()
    assert [node.client().info("server")["run_id"] for node in pair.nodes] == run_ids
    assert pair.nodes[1].client().info("replication")["master_link_status"] == "up"

    # Taken out of the file: gone from every instance.
    for node in pair.nodes:
        path = node.directory / "users.acl"
        path.write_text(path.read_text().replace(app, ""))
    assert run(args, capsys, check=False)["instances"][str(pair.nodes[0].port)]["removed"] == ["cwapp"]
    for node in pair.nodes:
        assert "cwapp" not in node.client().acl_users()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(
                host="127.0.0.1", port=node.port, username="cwapp", password="test-only-app-password-1"
            ).ping()


def test_a_restart_waits_for_an_instance_that_rewrites_its_aof(pair: Group) -> None:
    """gate_settled: done at once on an idle instance, and it waits out an AOF rewrite."""
    from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (  # noqa: PLC0415
        gate_settled,
    )

    primary = pair.nodes[0].client()
    assert gate_settled(primary, "primary", 5) < 1
    primary.config_set("appendonly", "yes")  # starts the first AOF rewrite
    gate_settled(primary, "primary", 30)
    assert int(primary.info("persistence")["aof_rewrite_in_progress"]) == 0

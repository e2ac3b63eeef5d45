# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.redis: clear(), keys() and delete_pattern() under the kit's own ACL user
(roles/redis_server's aclfile: ``~django:*`` and ``+@all -@dangerous``), on a live
redis-server and a live cluster on loopback. They touch only the alias's keys; django-redis's
own clear() is refused (FLUSHDB is @dangerous)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from conftest import load_plugin

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)

from cachewright_django.redis import RedisCache as BuiltinScopedCache
from django_redis.cache import RedisCache

from redis_cluster_fixture import ADMIN_PASSWORD as CLUSTER_PASSWORD
from redis_cluster_fixture import LocalCluster
from redis_nodes_fixture import ADMIN, ADMIN_PASSWORD, Node

acl = load_plugin("plugins/plugin_utils/redis_acl.py")
USER, PASSWORD = "django", "test-only-django"
# The app user as roles/redis_server writes it (default commands: +@all -@dangerous).
APP_ACL = acl.redis_server_acl(
    "cache",
    {
        "redis_server_admin_user": ADMIN,
        "redis_server_admin_password": ADMIN_PASSWORD,
        "redis_server_replication_password": "",
        "redis_server_users": [{"name": USER, "password": PASSWORD, "keys": ["django:*"]}],
    },
)[-1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node(tmp_path_factory.mktemp("acl"), 31301).start()
    node.client().execute_command("ACL", "SETUSER", *APP_ACL.split()[1:])
    try:
        yield node
    finally:
        node.stop()


def alias(node: Node, client_class: str, prefix: str = "django") -> Any:
    return RedisCache(
        f"redis://{USER}:{PASSWORD}@127.0.0.1:{node.port}/0",
        {"KEY_PREFIX": prefix, "OPTIONS": {"CLIENT_CLASS": client_class}},
    )


def test_clear_removes_only_the_alias_keys_under_the_kit_acl(server: Node) -> None:
    admin = server.client()
    admin.set("otherapp:kept", "1")
    admin.set("django-other:kept", "1")  # another prefix that starts the same
    cache = alias(server, "cachewright_django.redis.DefaultClient")
    other = alias(server, "cachewright_django.redis.DefaultClient", prefix="django:second")
    cache.set_many({f"k{i}": i for i in range(500)}, 60)
    cache.set("old", 1, 60, version=7)
    other.set("kept", "yes", 60)
    with pytest.raises(Exception, match=r"NOPERM|permission"):
        alias(server, "django_redis.client.DefaultClient").clear()  # FLUSHDB: @dangerous
    cache.clear()
    left = sorted(k.decode() for k in admin.keys("*"))
    assert left == ["django-other:kept", "django:second:1:kept", "otherapp:kept"]


def test_keys_and_delete_pattern_use_scan_under_the_kit_acl(server: Node) -> None:
    cache = alias(server, "cachewright_django.redis.DefaultClient")
    cache.set_many({f"pat-{i}": i for i in range(50)}, 60)
    with pytest.raises(Exception, match=r"NOPERM|permission"):
        alias(server, "django_redis.client.DefaultClient").keys("pat-*")  # KEYS: @dangerous
    assert sorted(cache.keys("pat-*")) == sorted(f"pat-{i}" for i in range(50))
    assert cache.delete_pattern("pat-*") == 50
    assert cache.keys("pat-*") == []


def test_django_builtin_backend_clear_under_the_kit_acl(server: Node) -> None:
    builtin = BuiltinScopedCache(
        f"redis://127.0.0.1:{server.port}",
        {"KEY_PREFIX": "django", "OPTIONS": {"username": USER, "password": PASSWORD}},
    )
    builtin.set_many({f"b{i}": i for i in range(100)}, 60)
    server.client().set("otherapp:also-kept", "1")
    builtin.clear()
    assert server.client().keys("django:1:b*") == [] and server.client().get("otherapp:also-kept") == b"1"


def test_clear_of_a_million_keys(server: Node) -> None:
    admin = server.client()
    for start in range(0, 1_000_000, 20_000):
        admin.mset({f"django:1:m{i}": "x" for i in range(start, start + 20_000)})
    cache = alias(server, "cachewright_django.redis.DefaultClient")
    began = time.perf_counter()
    cache.clear()
    seconds = time.perf_counter() - began
    print(f"\nclear() of 1,000,000 keys (SCAN + UNLINK as the ACL user): {seconds:.1f} s")
    assert admin.keys("django:1:m*") == []


def test_cluster_clear_under_the_kit_acl(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, base_port=21401)
    try:
        cluster.start()
        for port in cluster.ports:
            cluster.node(port).execute_command("ACL", "SETUSER", *APP_ACL.split()[1:])
        cache = RedisCache(
            [f"redis://{USER}:{PASSWORD}@127.0.0.1:{p}" for p in cluster.ports[:2]],
            {
                "KEY_PREFIX": "django",
                "OPTIONS": {"CLIENT_CLASS": "cachewright_django.redis_cluster.RedisClusterClient"},
            },
        )
        cache.set_many({f"c{i}": i for i in range(300)}, 60)
        admin = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0], password=CLUSTER_PASSWORD)
        admin.set("otherapp:kept", "1")
        assert len(cache.keys("c*")) == 300
        cache.clear()
        assert admin.get("otherapp:kept") == b"1"
        assert sum(cluster.node(p).dbsize() for p in cluster.primaries()) == 1
    finally:
        cluster.stop()


def test_the_drill_s_fresh_connections_feel_a_password_change(server: Node) -> None:
    """A connection already open stays logged in when the user's password changes: only a
    writer that opens a new connection for every write (cachedrill --fresh-connections) can
    show what a password rotation does to the app."""
    from cachewright_django import drill  # noqa: PLC0415 - after the settings are configured

    admin = server.client()
    user, old, new = "rotating", "test-only-rotate-old", "test-only-rotate-new"
    cache = RedisCache(
        f"redis://{user}:{old}@127.0.0.1:{server.port}/0",
        {"OPTIONS": {"CLIENT_CLASS": "cachewright_django.redis.DefaultClient"}},
    )

    def writer(fresh: bool) -> dict[str, Any]:
        admin.execute_command("ACL", "SETUSER", user, "on", "resetpass", f">{old}", "~*", "+@all")
        calls = iter(range(12))

        def stop() -> bool:
            step = next(calls, None)
            if step == 4:  # the password changes under the writer
                admin.execute_command("ACL", "SETUSER", user, "resetpass", f">{new}")
            return step is None

        return drill.write_until(
            "rotating", f"fresh{fresh}", "p", stop, interval=0, cache=cache, fresh=fresh
        ).as_dict()

    pooled = writer(False)
    assert pooled["failed"] == 0 and len(pooled["acknowledged"]) == 12, pooled["windows"]
    fresh = writer(True)
    assert fresh["failed"] == 8 and len(fresh["acknowledged"]) == 4, fresh

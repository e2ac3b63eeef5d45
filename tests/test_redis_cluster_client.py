# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.redis_cluster.RedisClusterClient: the whole Django cache API on a
live 6-node Redis Cluster (tests/redis_cluster_fixture.py), including a failover."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

from conftest import require  # noqa: E402
from redis_cluster_fixture import (  # noqa: E402
    ADMIN_PASSWORD,
    APP_PASSWORD,
    APP_USER,
    LocalCluster,
    make_tls_files,
)

require("redis-server")

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)
    django.setup()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        local.start()
        yield local
    finally:
        local.stop()


@pytest.fixture
def cache(cluster: LocalCluster) -> Any:
    from django_redis.cache import RedisCache  # noqa: PLC0415 - after settings.configure()

    backend = RedisCache(
        [f"redis://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{p}" for p in cluster.ports[:2]],
        {
            "KEY_PREFIX": "cwtest",
            "OPTIONS": {
                "CLIENT_CLASS": "cachewright_django.redis_cluster.RedisClusterClient",
                "SOCKET_TIMEOUT": 2,
            },
        },
    )
    yield backend
    backend.clear()
    backend.close()


def test_keys_spread_over_every_primary(cache: Any, cluster: LocalCluster) -> None:
    data = {f"spread-{i}": i for i in range(300)}
    cache.set_many(data, 60)
    holders = [p for p in cluster.primaries() if cluster.node(p).dbsize() > 0]
    assert len(holders) == 3, holders


def test_single_key_api(cache: Any) -> None:
    cache.set("a", {"x": 1}, 60)
    assert cache.get("a") == {"x": 1}
    assert cache.add("a", "other") is False
    assert cache.add("b", "new", 60) is True
    assert cache.has_key("b")
    assert cache.touch("b", 120)
    assert 0 < cache.ttl("b") <= 120
    assert cache.expire("b", 30) and 0 < cache.ttl("b") <= 30
    assert cache.persist("b") and cache.ttl("b") is None
    cache.set("n", 10, 60)
    assert cache.incr("n") == 11 and cache.decr("n", 5) == 6
    assert cache.delete("n") and cache.get("n") is None
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")


def test_multi_key_api_across_slots(cache: Any) -> None:
    data = {f"multi-{i}": f"value-{i}" for i in range(50)}
    cache.set_many(data, 60)
    assert cache.get_many(list(data)) == data
    assert cache.get_many([*list(data)[:3], "absent"]) == {k: data[k] for k in list(data)[:3]}
    assert cache.delete_many(list(data)[:25]) == 25
    assert cache.get_many(list(data)) == {k: data[k] for k in list(data)[25:]}


def test_multi_key_calls_ride_through_a_slot_being_moved(cache: Any, cluster: LocalCluster) -> None:
    """While a slot moves key by key (as redis-cli --cluster rebalance moves it), half its keys
    on the new primary: get_many/set_many on its keys answer (MGET answers TRYAGAIN then),
    as does every key alone (ASK), and after the move too."""
    keys = [f"{{moving}}-{i}" for i in range(40)]  # one hash tag: one slot
    data = {key: i for i, key in enumerate(keys)}
    cache.set_many(data, 300)
    raw = [cache.make_key(key) for key in keys]
    primaries = cluster.primaries()
    slot = int(cluster.node(primaries[0]).execute_command("CLUSTER", "KEYSLOT", raw[0]))
    source = next(p for p in primaries if cluster.node(p).execute_command("CLUSTER", "COUNTKEYSINSLOT", slot))
    target = next(p for p in primaries if p != source)
    ids = {p: cluster.node(p).execute_command("CLUSTER", "MYID").decode() for p in (source, target)}
    cluster.node(target).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    cluster.node(source).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    cluster.node(source).execute_command(
        "MIGRATE", "127.0.0.1", target, "", 0, 5000, "AUTH", ADMIN_PASSWORD, "KEYS", *raw[:20]
    )
    assert cache.get_many(keys) == data
    assert all(cache.get(key) == value for key, value in data.items())
    cache.set_many({key: value + 1000 for key, value in data.items()}, 300)
    assert cache.get_many(keys) == {key: value + 1000 for key, value in data.items()}
    cluster.node(source).execute_command(
        "MIGRATE", "127.0.0.1", target, "", 0, 5000, "AUTH", ADMIN_PASSWORD, "KEYS", *raw[20:]
    )
    for port in primaries:
        cluster.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    assert cache.get_many(keys) == {key: value + 1000 for key, value in data.items()}


def test_pattern_api_over_all_primaries(cache: Any) -> None:
    cache.set_many({f"pat-{i}": i for i in range(40)}, 60)
    assert sorted(cache.keys("pat-*")) == sorted(f"pat-{i}" for i in range(40))
    assert len(list(cache.iter_keys("pat-*"))) == 40
    assert cache.delete_pattern("pat-*") == 40
    assert cache.keys("pat-*") == []


def test_clear_empties_every_primary(cache: Any, cluster: LocalCluster) -> None:
    cache.set_many({f"clear-{i}": i for i in range(60)}, 60)
    cache.clear()
    assert all(cluster.node(p).dbsize() == 0 for p in cluster.primaries())


def test_version_and_prefix_in_keys(cache: Any, cluster: LocalCluster) -> None:
    cache.set("versioned", "v2", 60, version=2)
    assert cache.get("versioned") is None and cache.get("versioned", version=2) == "v2"
    raw = [k for p in cluster.primaries() for k in cluster.node(p).keys("*versioned*")]
    assert raw == [b"cwtest:2:versioned"]


def test_survives_a_primary_failover(cache: Any, cluster: LocalCluster) -> None:
    """Writes acknowledged by a replica (WAIT 1) are still readable after their primary dies."""
    client = cache.client.get_client()
    data = {f"failover-{i}": i for i in range(200)}
    cache.set_many(data, 300)
    for primary in cluster.primaries():
        cluster.node(primary).execute_command("WAIT", 1, 2000)
    victim = cluster.primaries()[0]
    cluster.kill(victim)
    started = time.monotonic()
    cluster.wait_ok(20)
    deadline = time.monotonic() + 20
    while True:
        try:
            assert cache.get_many(list(data)) == data
            break
        except Exception:  # the client rediscovers the slots after MOVED/connection errors
            if time.monotonic() > deadline:
                raise
            client.nodes_manager.initialize()
            time.sleep(0.5)
    print(f"failover of primary {victim}: every key readable after {time.monotonic() - started:.1f}s")
    assert len(cluster.primaries()) == 3


def test_tls_cluster_with_acl_credentials(tmp_path: Path) -> None:
    """rediss:// LOCATIONs turn TLS on; the CA comes through CONNECTION_POOL_KWARGS."""
    from django_redis.cache import RedisCache  # noqa: PLC0415 - after settings.configure()

    tls_dir = make_tls_files(tmp_path / "tls")
    local = LocalCluster(tmp_path / "nodes", base_port=20101, tls_dir=tls_dir)
    try:
        local.start()
        backend = RedisCache(
            [f"rediss://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{local.ports[0]}"],
            {
                "KEY_PREFIX": "cwtls",
                "OPTIONS": {
                    "CLIENT_CLASS": "cachewright_django.redis_cluster.RedisClusterClient",
                    "CONNECTION_POOL_KWARGS": {"ssl_ca_certs": str(tls_dir / "ca.crt")},
                },
            },
        )
        data = {f"tls-{i}": i for i in range(30)}
        backend.set_many(data, 60)
        assert backend.get_many(list(data)) == data
        assert sorted(backend.keys("tls-*")) == sorted(data)
        backend.clear()
        assert backend.keys("tls-*") == []
        backend.close()
        unverified = RedisCache(
            [f"rediss://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{local.ports[0]}"],
            {"OPTIONS": {"CLIENT_CLASS": "cachewright_django.redis_cluster.RedisClusterClient"}},
        )
        with pytest.raises(Exception, match=r"(?i)certificate verify failed"):
            unverified.get("tls-1")
    finally:
        local.stop()


def _child_round_trips(cache: Any, name: str, queue: Any) -> None:
    """In a forked child: writes and reads of its own keys through the parent's backend."""
    try:
        wrong = 0
        for i in range(300):
            cache.set(f"fork-{name}-{i}", (name, i), 60)
            wrong += cache.get(f"fork-{name}-{i}") != (name, i)
        queue.put((name, wrong, None))
    except Exception as error:  # noqa: BLE001 - sent to the parent
        queue.put((name, -1, repr(error)))


def test_a_backend_used_before_a_fork_works_in_every_child(cache: Any) -> None:
    """A pre-fork server (gunicorn --preload) forks workers after the app imported and maybe
    used its caches: each child gets its own connections (redis-py's pools start again in a
    new pid), so no reply crosses between processes sharing a socket."""
    import multiprocessing  # noqa: PLC0415

    cache.set("fork-parent", "before", 60)  # the parent's cluster client and its connections exist
    context = multiprocessing.get_context("fork")
    queue = context.SimpleQueue()
    children = [context.Process(target=_child_round_trips, args=(cache, f"c{n}", queue)) for n in range(3)]
    for child in children:
        child.start()
    for i in range(300):  # the parent keeps using its connections meanwhile
        cache.set(f"fork-parent-{i}", i, 60)
        assert cache.get(f"fork-parent-{i}") == i
    for child in children:
        child.join(60)
    results = sorted(queue.get() for _ in children)
    assert results == [(f"c{n}", 0, None) for n in range(3)], results
    assert cache.get("fork-parent") == "before"


def test_the_test_certificates_pass_strict_verification(tmp_path: Path) -> None:
    """Python 3.13's default TLS context verifies with VERIFY_X509_STRICT (key identifiers on
    every certificate, key usage on the CA): the throw-away CA must pass it as a real one does."""
    files = make_tls_files(tmp_path / "tls")
    context = ssl.create_default_context(cafile=str(files / "ca.crt"))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    done = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", str(files / "ca.crt"), str(files / "node.crt")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(str(files / "node.crt"), str(files / "node.key"))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            with contextlib.suppress(ssl.SSLError, OSError), server.wrap_socket(connection, server_side=True):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        thread.join(5)

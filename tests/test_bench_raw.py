# SPDX-License-Identifier: Apache-2.0
"""cachebench raw ceilings without servers: the connection derived from each kind of alias
(no connection is opened), the redis-benchmark command line, its CSV output."""

from __future__ import annotations

from pathlib import Path

import django
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

if not settings.configured:  # the same configuration as tests/test_redis_cluster_client.py
    settings.configure(CACHES={}, USE_TZ=True)
    django.setup()

from cachewright_django.bench import raw  # noqa: E402
from django.core.cache.backends.locmem import LocMemCache  # noqa: E402
from django.core.cache.backends.memcached import PyLibMCCache, PyMemcacheCache  # noqa: E402
from django.core.cache.backends.redis import RedisCache as BuiltinRedisCache  # noqa: E402
from django_redis.cache import RedisCache  # noqa: E402

CA = "/etc/cachewright/ca.crt"


def test_backend_kinds():
    assert raw.backend_kind(RedisCache("redis://h:6379/0", {})) == "redis"
    assert raw.backend_kind(BuiltinRedisCache("redis://h:6379/0", {})) == "redis"
    assert raw.backend_kind(PyMemcacheCache("h:11211", {})) == "memcached"
    assert raw.backend_kind(LocMemCache("x", {})) == "locmem"
    assert raw.backend_kind(object()) == "other"
    with pytest.raises(raw.UnsupportedError, match="no raw ceiling for a locmem backend"):
        raw.raw_target(LocMemCache("x", {}))


def test_django_redis_tls_acl_from_location_and_pool_kwargs():
    cache = RedisCache(
        "rediss://app:secret@10.0.0.5:6380/3",
        {
            "OPTIONS": {
                "CONNECTION_POOL_KWARGS": {
                    "ssl_ca_certs": CA,
                    "ssl_certfile": "/c.crt",
                    "ssl_keyfile": "/c.key",
                }
            }
        },
    )
    target = raw.raw_target(cache)
    assert isinstance(target, raw.RedisTarget)
    primary = target.primary
    assert (primary.host, primary.port, primary.db, primary.username, primary.password, primary.tls) == (
        "10.0.0.5", 6380, 3, "app", "secret", True,
    )  # fmt: skip
    assert primary.ssl == {"ssl_ca_certs": CA, "ssl_certfile": "/c.crt", "ssl_keyfile": "/c.key"}
    assert target.topology == "standalone" and target.reads == [primary]
    described = target.describe()
    assert "secret" not in repr(described) and described["primary"]["password_set"] is True
    assert described["parser"] == "_HiredisParser"
    client = primary.client()  # same TLS class and arguments, its own pool; not connected yet
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == CA


def test_django_redis_options_credentials_and_replicas():
    cache = RedisCache(
        ["redis://10.0.0.5:6379/1", "redis://10.0.0.6:6379/1", "redis://10.0.0.7:6379/1"],
        {"OPTIONS": {"USERNAME": "app", "PASSWORD": "pw", "SOCKET_TIMEOUT": 2}},
    )
    target = raw.raw_target(cache)
    assert target.topology == "replicated"
    assert [e.host for e in target.endpoints] == ["10.0.0.5", "10.0.0.6", "10.0.0.7"]
    assert [e.host for e in target.reads] == ["10.0.0.6", "10.0.0.7"]  # django-redis reads from replicas
    assert all(
        e.username == "app" and e.password == "pw" and not e.tls and not e.ssl for e in target.endpoints
    )
    assert target.primary.kwargs["socket_timeout"] == 2


def test_builtin_redis_cache_and_the_comparison_backend():
    cache = BuiltinRedisCache("rediss://u:p@10.0.0.5:6380/2", {"OPTIONS": {"ssl_ca_certs": CA}})
    target = raw.redis_target(cache)
    assert (target.primary.port, target.primary.db, target.primary.username, target.tls) == (
        6380,
        2,
        "u",
        True,
    )
    builtin = raw.builtin_redis_cache(target, timeout=900)
    assert isinstance(builtin, BuiltinRedisCache)
    assert builtin._servers == ["rediss://10.0.0.5:6380/2"]
    assert builtin._options == {"username": "u", "password": "p", "ssl_ca_certs": CA}
    assert builtin.default_timeout == 900
    assert "CLIENT_CLASS" not in builtin._options  # the seed's mistake, made valid


def test_memcached_targets_keep_the_client_arguments_but_not_the_serde():
    cache = PyMemcacheCache(
        "10.0.0.8:11211;10.0.0.9:11211",
        {"OPTIONS": {"use_pooling": True, "max_pool_size": 4, "no_delay": True}},
    )
    target = raw.raw_target(cache)
    assert isinstance(target, raw.MemcachedTarget)
    assert target.servers == ["10.0.0.8:11211", "10.0.0.9:11211"] and target.tls is False
    assert target.kwargs["use_pooling"] is True and target.kwargs["max_pool_size"] == 4
    assert target.kwargs["no_delay"] is True and target.kwargs["default_noreply"] is False
    assert "serde" not in target.kwargs
    assert target.client().use_pooling is True  # a HashClient; no connection yet
    pylibmc = raw.raw_target(PyLibMCCache("10.0.0.8:11211", {"OPTIONS": {"binary": True}}))
    assert pylibmc.servers == ["10.0.0.8:11211"] and pylibmc.tls is False


def test_memcached_tls_backend(tmp_path):
    tls_module = pytest.importorskip("cachewright_django.memcached")
    from redis_cluster_fixture import make_tls_files  # noqa: PLC0415

    tls = make_tls_files(tmp_path)
    cache = tls_module.PyMemcacheTLSCache(
        "127.0.0.1:11212", {"OPTIONS": {"tls": {"ca_certs": str(tls / "ca.crt")}}}
    )
    target = raw.raw_target(cache)
    assert target.tls is True and target.kwargs["tls_context"] is not None


def endpoint(**kwargs):
    values = {"host": "10.0.0.5", "port": 6380, "db": 2, "username": "app", "password": "pw", "tls": True}
    values.update(kwargs)
    return raw.RedisEndpoint(
        kwargs={"ssl_ca_certs": CA, "ssl_certfile": "/c.crt", "ssl_keyfile": "/c.key"}, **values
    )  # fmt: skip


def test_redis_benchmark_command_uses_tls_acl_and_own_keys():
    argv = raw.redis_benchmark_command(
        "/usr/bin/redis-benchmark", endpoint(), test="set", clients=50, requests=1000, keys=500,
        value_size=100, prefix="cachebench:run1:default:", timeout=900,
    )  # fmt: skip
    assert argv[:13] == [
        "/usr/bin/redis-benchmark", "-h", "10.0.0.5", "-p", "6380", "-c", "50", "-n", "1000", "-r", "500",
        "--csv", "--dbnum",
    ]  # fmt: skip
    text = " ".join(argv)
    assert "--tls --cacert /etc/cachewright/ca.crt --cert /c.crt --key /c.key" in text
    assert "--user app -a pw" in text
    assert argv[-5:] == ["SET", "cachebench:run1:default:rb:__rand_int__", "v" * 100, "EX", "900"]
    recorded = raw.redact(argv, endpoint())
    assert "pw" not in recorded and "***" in recorded and "<100 bytes>" in recorded
    get = raw.redis_benchmark_command(
        "rb", endpoint(tls=False, password=None, db=0), test="get", clients=8, requests=10, keys=5,
        value_size=1, prefix="p:", timeout=1, cluster=True,
    )  # fmt: skip
    assert "--tls" not in get and "-a" not in get and "--dbnum" not in get
    assert "--cluster" in get
    assert get[-2:] == ["GET", "p:rb:{tag}:__rand_int__"]
    insecure = raw.tls_arguments(raw.RedisEndpoint("h", 1, tls=True, kwargs={"ssl_cert_reqs": "none"}))
    assert insecure == ["--tls", "--insecure"]
    assert raw.benchmark_keys("p:", 3) == ["p:rb:000000000000", "p:rb:000000000001", "p:rb:000000000002"]


def test_redis_benchmark_csv():
    output = (
        '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
        '"max_latency_ms"\n"GET cachebench:x:rb:__rand_int__","38834.95","0.931","0.104","0.439",'
        '"3.983","7.783","24.655"\n'
    )
    rps, latency = raw.parse_benchmark_csv(output)
    assert rps == 38834.95
    assert latency == {"avg": 0.931, "min": 0.104, "p50": 0.439, "p95": 3.983, "p99": 7.783, "max": 24.655}
    with pytest.raises(ValueError, match="no CSV result"):
        raw.parse_benchmark_csv("Could not connect to Redis at 10.0.0.5:6380: Connection refused\n")


@pytest.mark.live  # starts a program
def test_redis_benchmark_failure_is_recorded_without_the_password(tmp_path):
    fake = tmp_path / "redis-benchmark"
    fake.write_text('#!/bin/sh\necho "AUTH failed for password pw" >&2\nexit 1\n')
    fake.chmod(0o755)
    argv = raw.redis_benchmark_command(
        str(fake), endpoint(), test="get", clients=1, requests=1, keys=1, value_size=1, prefix="p:", timeout=1
    )
    run = raw.run_redis_benchmark(argv, endpoint(), time_limit=10)
    assert run.ops_per_s is None
    assert run.error == "exit 1: AUTH failed for password ***"


@pytest.mark.live  # starts a program
def test_alias_refused_when_its_server_would_have_to_evict(monkeypatch):
    from cachewright_django.bench.suite import BenchOptions, Suite  # noqa: PLC0415

    class NearlyFull:
        def info(self, section):
            assert section == "memory"
            return {"maxmemory": 100_000_000, "used_memory": 95_000_000}

        def close(self):
            pass

    monkeypatch.setattr(raw.RedisEndpoint, "client", lambda self: NearlyFull())
    cache = RedisCache("redis://10.255.255.1:6379/0", {})
    options = BenchOptions(aliases=["default"], keys=10_000, value_sizes=[10240], redis_benchmark=False)
    doc = Suite(options, get_cache=lambda alias: cache, run_id="r").run()
    assert doc["results"] == []
    (skip,) = doc["skipped"]
    assert skip["alias"] == "default" and skip["layer"] == "all"
    assert "would hold 206 MB, over half of the 5 MB the server has left" in skip["reason"]

"""Check a Sentinel-managed Redis after a failover, from a client host.

Run by verify.yml on the client container with the pinned redis-py, Django and
django-redis: python sentinel_probe.py spec.json
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import django
import redis
from cw_checks import check, report
from django.conf import settings
from redis.sentinel import Sentinel


def failover_in_time(spec: dict[str, Any]) -> None:
    failover = spec["failover"]
    print(f"     failover: {failover['old']} -> {failover['new']} in {failover['seconds']} s")
    assert failover["new"] != failover["old"], "the primary did not change"
    assert failover["seconds"] <= spec["max_failover_seconds"], f"took {failover['seconds']} s"


def sentinels_agree(spec: dict[str, Any]) -> None:
    for host, port in spec["sentinels"]:
        client = redis.Redis(host=host, port=port, password=spec["sentinel_password"], socket_timeout=5)
        address, _ = client.execute_command("SENTINEL", "get-master-addr-by-name", spec["master"])
        have = address.decode() if isinstance(address, bytes) else address
        assert have == spec["failover"]["new"], f"Sentinel {host} says {have}"


def _sentinel(spec: dict[str, Any]) -> Sentinel:
    return Sentinel(
        [tuple(s) for s in spec["sentinels"]],
        sentinel_kwargs={"password": spec["sentinel_password"]},
        username=spec["app_user"],
        password=spec["app_password"],
        socket_timeout=5,
    )


def redis_py_through_sentinel(spec: dict[str, Any]) -> None:
    sentinel = _sentinel(spec)
    primary = sentinel.master_for(spec["master"])
    key = f"{spec['prefix']}sentinel:{uuid.uuid4().hex}"
    assert primary.set(key, b"after-failover", ex=120)
    assert primary.get(key) == b"after-failover"
    replica = sentinel.slave_for(spec["master"])
    deadline = time.monotonic() + 10
    while replica.get(key) != b"after-failover":
        assert time.monotonic() < deadline, "the replica never saw the write"
        time.sleep(0.2)


def django_through_sentinel(spec: dict[str, Any]) -> None:
    from django.core.cache import caches  # noqa: PLC0415 - only after settings.configure()

    cache = caches["default"]
    key = f"probe-{uuid.uuid4().hex}"
    cache.set(key, {"n": 1}, 120)
    assert cache.get(key) == {"n": 1}, "get after set"
    cache.set_many({f"{key}-a": 1, f"{key}-b": 2}, 120)
    assert cache.get_many([f"{key}-a", f"{key}-b"]) == {f"{key}-a": 1, f"{key}-b": 2}
    assert cache.incr(f"{key}-a") == 2
    assert cache.delete(key)
    cache.delete_many([f"{key}-a", f"{key}-b"])


def old_primary_follows(spec: dict[str, Any]) -> None:
    client = redis.Redis(
        host=spec["failover"]["old"], port=spec["port"], username=spec["admin_user"],
        password=spec["admin_password"], socket_timeout=5,
    )  # fmt: skip
    info = client.info("replication")
    assert info["role"] == "slave", f"role is {info['role']}"
    assert info["master_host"] == spec["failover"]["new"], f"follows {info['master_host']}"
    assert info["master_link_status"] == "up", f"link is {info['master_link_status']}"


def configure_django(spec: dict[str, Any]) -> None:
    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"redis://{spec['app_user']}:{spec['app_password']}@{spec['master']}/0",
                "KEY_PREFIX": spec["prefix"].rstrip(":"),
                "OPTIONS": {
                    "CLIENT_CLASS": "django_redis.client.SentinelClient",
                    "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                    "SENTINELS": [tuple(s) for s in spec["sentinels"]],
                    "SENTINEL_KWARGS": {"password": spec["sentinel_password"]},
                    "SOCKET_TIMEOUT": 5,
                },
            }
        }
    )
    django.setup()


def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as stream:
        spec = json.load(stream)
    configure_django(spec)
    check("a new primary within the limit", lambda: failover_in_time(spec))
    check("every Sentinel names the new primary", lambda: sentinels_agree(spec))
    check("redis-py through Sentinel writes and reads", lambda: redis_py_through_sentinel(spec))
    check("Django (django-redis SentinelClient) round trip", lambda: django_through_sentinel(spec))
    check("the old primary came back as a replica of the new one", lambda: old_primary_follows(spec))
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

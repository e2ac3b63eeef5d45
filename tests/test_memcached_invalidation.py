"""A memcached server that misses changes (down, restarting) must not serve the values from
before them when it is back: LeanPyMemcacheCache notes what did not reach it and delivers
that first (cachewright_django.memcached.LeanHashClient). Live, on two loopback memcached
processes; a server is made to miss changes with SIGSTOP, keeping its data as a warm
restart does, and comes back with SIGCONT. Django's own PyMemcacheCache, the same way,
reads the old value and the deleted key back."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

if not django_settings.configured:
    django_settings.configure(CACHES={}, USE_TZ=True)

from cachewright_django.memcached import PENDING_KEYS, LeanPyMemcacheCache
from django.core.cache.backends.memcached import PyMemcacheCache

from memcached_servers import memcached_servers

# As the generated settings have them (ignore_exc: the app gets no error, dead_timeout 0: a
# failing server keeps its keys), with short timeouts for a stopped server.
OPTIONS = {
    "no_delay": True,
    "ignore_exc": True,
    "dead_timeout": 0,
    "retry_attempts": 2,
    "retry_timeout": 0.2,
    "connect_timeout": 0.2,
    "timeout": 0.2,
}


@pytest.fixture
def servers() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    with memcached_servers(2) as processes:
        yield processes


def keys_on(cache: Any, server: str, count: int) -> list[str]:
    """`count` keys the alias sends to `server`."""
    found = []
    for n in range(10000):
        key = f"inval-{n}"
        if cache._cache._get_client(cache.make_and_validate_key(key)).server == tuple_of(server):
            found.append(key)
            if len(found) == count:
                return found
    raise AssertionError(f"no {count} keys on {server}")


def tuple_of(server: str) -> tuple[str, int]:
    host, port = server.rsplit(":", 1)
    return host, int(port)


def miss_changes(cache: Any, process: subprocess.Popen[bytes], keys: list[str]) -> None:
    """Old values written, the server stopped, half the keys overwritten and half deleted
    (each once, as an app invalidating), then the server back with the old values."""
    half = len(keys) // 2
    cache.set_many({key: "old" for key in keys}, 300)
    process.send_signal(signal.SIGSTOP)
    try:
        for key in keys[:half]:
            cache.set(key, "new", 300)
        for key in keys[half:]:
            cache.delete(key)
    finally:
        process.send_signal(signal.SIGCONT)
    time.sleep(OPTIONS["retry_timeout"] + 0.1)


def stale(cache: Any, keys: list[str]) -> list[str]:
    """The keys that read the value from before the change."""
    return [key for key in keys if cache.get(key) == "old"]


def test_a_server_back_from_missing_changes_serves_none_of_the_old_values(
    servers: dict[str, subprocess.Popen[bytes]],
) -> None:
    locations = list(servers)
    cache = LeanPyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    keys = keys_on(cache, locations[0], 40)
    miss_changes(cache, servers[locations[0]], keys)
    assert stale(cache, keys) == []
    # What this process noted was delivered to the server: another process reads no old value.
    other = LeanPyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    assert stale(other, keys) == []
    assert not cache._cache._pending


def test_django_s_own_backend_reads_the_old_values_back(servers: dict[str, subprocess.Popen[bytes]]) -> None:
    locations = list(servers)
    cache = PyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    keys = keys_on(cache, locations[0], 40)
    miss_changes(cache, servers[locations[0]], keys)
    # Every change but the one the server still read from its socket once it ran again.
    assert len(stale(cache, keys)) >= len(keys) - 1


def test_a_server_that_missed_too_many_changes_is_flushed_when_back(
    servers: dict[str, subprocess.Popen[bytes]],
) -> None:
    locations = list(servers)
    cache = LeanPyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    keys = keys_on(cache, locations[0], 4)
    cache.set_many({key: "old" for key in keys}, 300)
    client = cache._cache
    server = tuple_of(locations[0])
    client._note(server, [f"noted-{n}" for n in range(PENDING_KEYS + 1)])
    assert server in client._flush and server not in client._pending
    assert stale(cache, keys) == []
    assert not client._flush


def test_a_read_waits_for_the_notes_and_misses_meanwhile(servers: dict[str, subprocess.Popen[bytes]]) -> None:
    locations = list(servers)
    cache = LeanPyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    keys = keys_on(cache, locations[0], 2)
    cache.set_many({key: "old" for key in keys}, 300)
    process = servers[locations[0]]
    process.send_signal(signal.SIGSTOP)
    try:
        cache.delete(keys[0])
        # Down: a miss, not an error (ignore_exc), and never the old value.
        assert cache.get(keys[0]) is None and cache.get(keys[1]) is None
    finally:
        process.send_signal(signal.SIGCONT)
    time.sleep(OPTIONS["retry_timeout"] + 0.1)
    assert cache.get(keys[0]) is None
    assert cache.get(keys[1]) == "old"

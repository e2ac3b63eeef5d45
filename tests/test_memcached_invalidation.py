# SPDX-License-Identifier: Apache-2.0
"""A memcached server that misses changes (down, restarting) must not serve the values from
before them when it is back: LeanPyMemcacheCache notes what did not reach it and delivers
that first (cachewright_django.memcached.LeanHashClient). Live, on two loopback memcached
processes; a server is made to miss changes with SIGSTOP, keeping its data as a warm
restart does, and comes back with SIGCONT. Django's own PyMemcacheCache, the same way,
reads the old value and the deleted key back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
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


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGSTOP, and wait until every thread of the server has stopped (kill() returns first)."""
    process.send_signal(signal.SIGSTOP)
    tasks = Path(f"/proc/{process.pid}/task")
    deadline = time.monotonic() + 5
    while any((task / "stat").read_text().split(") ", 1)[1][0] != "T" for task in tasks.iterdir()):
        assert time.monotonic() < deadline, "memcached did not stop"
        time.sleep(0.01)


def miss_changes(cache: Any, process: subprocess.Popen[bytes], keys: list[str]) -> None:
    """Old values written, the server stopped, half the keys overwritten and half deleted
    (each once, as an app invalidating), then the server back with the old values."""
    half = len(keys) // 2
    cache.set_many({key: "old" for key in keys}, 300)
    stop(process)
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
    stop(process)
    try:
        cache.delete(keys[0])
        # Down: a miss, not an error (ignore_exc), and never the old value.
        assert cache.get(keys[0]) is None and cache.get(keys[1]) is None
    finally:
        process.send_signal(signal.SIGCONT)
    time.sleep(OPTIONS["retry_timeout"] + 0.1)
    assert cache.get(keys[0]) is None
    assert cache.get(keys[1]) == "old"


def test_a_call_for_another_server_delivers_the_notes(servers: dict[str, subprocess.Popen[bytes]]) -> None:
    """The process need not touch the returned server's keys again: its next call of any
    server delivers, so another process reads no old value from then on."""
    locations = list(servers)
    cache = LeanPyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    keys = keys_on(cache, locations[0], 20)
    elsewhere = keys_on(cache, locations[1], 1)[0]
    miss_changes(cache, servers[locations[0]], keys)
    cache.set(elsewhere, "x", 300)
    assert not cache._cache.pending()
    other = LeanPyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    assert stale(other, keys) == []


EXITING = """
import signal, sys, time
from django.conf import settings
settings.configure(CACHES={{}}, USE_TZ=True)
from cachewright_django.memcached import LeanPyMemcacheCache
options = {options!r}
cache = LeanPyMemcacheCache({locations!r}, {{"OPTIONS": options}})
keys = {keys!r}
cache.set_many({{key: "old" for key in keys}}, 300)
print("stop", flush=True)
sys.stdin.readline()
for key in keys:
    cache.delete(key)
print("back", flush=True)
sys.stdin.readline()
"""


def test_a_process_that_ends_delivers_its_notes(servers: dict[str, subprocess.Popen[bytes]]) -> None:
    """An app process that ends normally while its server is back delivers what it noted."""
    locations = list(servers)
    cache = LeanPyMemcacheCache(locations, {"OPTIONS": OPTIONS})
    keys = keys_on(cache, locations[0], 10)
    source = EXITING.format(options=OPTIONS, locations=locations, keys=keys)
    # The app imports the package this test imports (the venv's: editable, or the matrix's wheel).
    app = subprocess.Popen(
        [sys.executable, "-c", source], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert app.stdout is not None and app.stdin is not None
    assert app.stdout.readline().strip() == "stop"
    process = servers[locations[0]]
    stop(process)
    try:
        app.stdin.write("\n")
        app.stdin.flush()
        assert app.stdout.readline().strip() == "back"
    finally:
        process.send_signal(signal.SIGCONT)
    app.stdin.write("\n")
    app.stdin.close()
    assert app.wait(timeout=30) == 0
    assert stale(cache, keys) == [] and all(cache.get(key) is None for key in keys)

# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.memcached.LeanPyMemcacheCache: Django's PyMemcacheCache with fewer costs
per call and the same behaviour.

- the key check refuses exactly the keys Django refuses, with Django's message (hypothesis);
- a key's server is the one pymemcache's rendezvous hash picks, before and after a server
  leaves or rejoins the ring (hypothesis);
- against two real memcached servers on loopback: what one backend writes the other reads
  (the same key on the same server, so switching backends moves no key), and Django's cache
  contract holds on the lean alias.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from hypothesis import given, settings
from hypothesis import strategies as st

if not django_settings.configured:
    django_settings.configure(CACHES={}, USE_TZ=True)

import pylibmc
from cachewright_django import contract
from cachewright_django.bench.sessions import KeySpace, MemcacheSession, PyLibMCSession
from cachewright_django.bench.workload import OPS
from cachewright_django.memcached import (
    LeanHashClient,
    LeanPyMemcacheCache,
    RendezvousNodeCache,
)
from django.core.cache.backends.base import InvalidCacheKey
from django.core.cache.backends.memcached import PyMemcacheCache
from django.test import override_settings
from pymemcache.client.hash import HashClient
from pymemcache.client.rendezvous import RendezvousHash

from memcached_servers import memcached_servers

# Keys near Django's rules: printable text, spaces and control characters, up to past 250.
KEYS = st.text(
    alphabet=st.one_of(st.characters(min_codepoint=0, max_codepoint=0x7F), st.characters()),
    max_size=300,
)
NODES = st.lists(
    st.builds(
        lambda h, p: f"{h}:{p}",
        st.sampled_from(["10.0.0.1", "10.0.0.2", "mc-3", "mc-4"]),
        st.integers(1, 65535),
    ),
    min_size=1,
    max_size=5,
    unique=True,
)  # fmt: skip


def refusal(cache: object, key: str) -> str | None:
    try:
        cache.validate_key(key)  # type: ignore[attr-defined]
    except InvalidCacheKey as error:
        return str(error)
    return None


@settings(max_examples=400, deadline=None)
@given(key=KEYS)
def test_the_key_check_refuses_what_django_refuses_with_its_message(key: str) -> None:
    django_cache = PyMemcacheCache("127.0.0.1:1", {})
    lean = LeanPyMemcacheCache("127.0.0.1:1", {})
    assert refusal(lean, key) == refusal(django_cache, key)


@pytest.mark.parametrize(
    "key", ["a" * 250, "a" * 251, "with space", "tab\there", "del\x7f", "ünïcödé", "\x00", ""]
)
def test_the_key_check_at_its_edges(key: str) -> None:
    assert refusal(LeanPyMemcacheCache("h:1", {}), key) == refusal(PyMemcacheCache("h:1", {}), key)


@settings(max_examples=200, deadline=None)
@given(nodes=NODES, keys=st.lists(st.text(max_size=60), min_size=1, max_size=20), data=st.data())
def test_a_key_goes_to_the_server_pymemcache_picks(
    nodes: list[str], keys: list[str], data: st.DataObject
) -> None:
    lean, plain = RendezvousNodeCache(list(nodes)), RendezvousHash(list(nodes))
    assert [lean.get_node(k) for k in keys] == [plain.get_node(k) for k in keys]
    # A server leaves the ring (marked dead): no key is sent to it from a remembered choice.
    gone = data.draw(st.sampled_from(nodes))
    lean.remove_node(gone)
    plain.remove_node(gone)
    assert [lean.get_node(k) for k in keys] == [plain.get_node(k) for k in keys]
    assert gone not in {lean.get_node(k) for k in keys}
    # ... and rejoins it.
    lean.add_node(gone)
    plain.add_node(gone)
    assert [lean.get_node(k) for k in keys] == [plain.get_node(k) for k in keys]


def test_an_empty_ring_has_no_server() -> None:
    ring = RendezvousNodeCache(["a:1"])
    ring.remove_node("a:1")
    assert ring.get_node("key") is None


@pytest.fixture(scope="module")
def servers() -> Iterator[list[str]]:
    with memcached_servers(2) as processes:
        yield list(processes)


OPTIONS = {"no_delay": True, "use_pooling": True, "max_pool_size": 4, "dead_timeout": 0}


def test_each_backend_reads_what_the_other_wrote(servers: list[str]) -> None:
    lean = LeanPyMemcacheCache(servers, {"KEY_PREFIX": "lean", "OPTIONS": OPTIONS})
    django_cache = PyMemcacheCache(servers, {"KEY_PREFIX": "lean", "OPTIONS": OPTIONS})
    assert isinstance(lean._cache, LeanHashClient)
    written = {f"key-{i}": {"n": i, "text": "ü" * (i % 5)} for i in range(300)}
    lean.set_many(written, 60)
    assert django_cache.get_many(list(written)) == written
    django_cache.set_many({k: v["n"] for k, v in written.items()}, 60)
    assert lean.get_many(list(written)) == {k: v["n"] for k, v in written.items()}
    # Both servers hold keys: the ring spreads them, the same way for both backends.
    per_server = {name: client.stats()[b"curr_items"] for name, client in lean._cache.clients.items()}
    assert all(count > 50 for count in per_server.values()), per_server
    lean.delete_many(list(written))
    assert django_cache.get_many(list(written)) == {}


def test_the_lean_alias_keeps_the_cache_contract(servers: list[str]) -> None:
    caches = {
        "lean": {
            "BACKEND": "cachewright_django.memcached.LeanPyMemcacheCache",
            "LOCATION": servers,
            "KEY_PREFIX": "contract",
            "OPTIONS": OPTIONS,
        }
    }
    with override_settings(CACHES=caches):
        results = contract.run(["lean"], destructive=True)
    assert contract.failures(results) == []
    outcomes = results[0]["results"]
    assert all(o == "ok" or o.startswith("limitation: clear() is flush_all") for o in outcomes.values()), (
        outcomes
    )


@pytest.mark.parametrize("library", ["pymemcache", "pylibmc"])
def test_the_raw_bench_sessions_run_every_operation(servers: list[str], library: str) -> None:
    """The raw ceilings of the bench (bench/sessions.py): each library's own calls and options."""
    space = KeySpace(f"raw-{library}:", 40)
    if library == "pylibmc":
        session: MemcacheSession = PyLibMCSession(pylibmc.Client(servers), space, b"v" * 10, 60)
    else:
        hosts = [(h, int(p)) for h, p in (s.split(":") for s in servers)]
        session = MemcacheSession(HashClient(hosts, default_noreply=False), space, b"v" * 10, 60)
    session.connect()
    session.populate(range(40))
    session.populate(range(40), counters=True)
    found = {op: session.operation(op)([1, 2, 3]) for op in OPS}
    assert found == {
        "get": 1, "set": 0, "delete": 0, "add": 0, "incr": 0, "touch": 1,  # add wrote key 1 again
        "get_many": 3, "set_many": 0, "delete_many": 0,
    }  # fmt: skip
    assert session.operation("get_many")(list(range(40))) == 37  # deleted: keys 1, 2, 3
    session.remove(range(40))
    assert session.operation("get_many")(list(range(40))) == 0
    session.close()

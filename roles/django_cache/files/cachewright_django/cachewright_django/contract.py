"""Django's cache contract, checked on every alias of the loaded settings.

What an app relies on, beyond a round trip: unicode keys and values, add() semantics, a few
hundred keys at once through the *_many calls, incr/decr (and ValueError on a missing key),
timeouts 0 / None / 1 s, versions, 512 KiB values, has_key/touch, and - with ``destructive``
- that clear() of one alias leaves every other alias's keys alone::

    manage.py cache_contract [--aliases default sessions] [--destructive] [--json]

Where a backend cannot meet an item by design, the result names it as a limitation with its
reason instead of a failure. The checks use their own keys (``cwcontract:<run>:...``); only
``destructive`` calls clear(), so never give it on a cache that serves users.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cachewright_django.roundtrip import DUMMY, REPLICA_LAG_S, settle

# A few hundred keys at once, under the 300 entries local-memory, database and file caches
# hold by default (MAX_ENTRIES) before they cull.
MANY = 200
LARGE = 512 * 1024
# Seconds the 1-second timeout is given to pass (clocks, Redis's expiry cycle, memcached's).
EXPIRY_WAIT = 1.6
REPLICA_READS = (
    "reads go to Redis replicas (read_from_replicas: true): a read right after a write may miss "
    f"it; the reads here waited up to {REPLICA_LAG_S:g} s for replication"
)

# Items a backend cannot meet by design, and why (matched on the BACKEND path).
LIMITS: dict[str, dict[str, str]] = {
    "memcached": {
        "clear isolation": "clear() is flush_all: every alias on the same memcached instances loses its keys",
    },
    "cachewright_django.tiered": {
        "clear isolation": "a tiered alias is made of other aliases: its clear() clears them",
    },
}


class ContractError(AssertionError):
    """A backend answered what Django's cache API does not."""


def reads_from_replicas(cache: Any) -> bool:
    """Whether the alias's reads go to other servers than its writes (Redis replicas).

    Django's RedisCache and django-redis's clients read from the second and later servers of
    LOCATION when it lists several; the cluster client and a single server read where they write.
    """
    from django.core.cache.backends.redis import RedisCache  # noqa: PLC0415

    if isinstance(cache, RedisCache):
        return len(cache._servers) > 1
    client = getattr(cache, "client", None)
    pick = getattr(client, "get_next_client_index", None)
    return bool(pick and pick(write=False) != 0)


def expect(label: str, got: Any, want: Any) -> None:
    if got != want:
        raise ContractError(f"{label}: got {str(got)[:80]!r}, expected {str(want)[:80]!r}")


@dataclass
class Alias:
    """One alias under test: its cache, keys and what it has shown so far."""

    name: str
    backend: str
    cache: Any
    base: str
    lag: float = 0.0
    results: dict[str, str] = field(default_factory=dict)

    def key(self, part: str) -> str:
        return f"{self.base}:{part}"

    def limit(self, item: str) -> str | None:
        return next((reason.get(item) for match, reason in LIMITS.items() if match in self.backend), None)

    def read(self, label: str, get: Callable[[], Any], want: Any) -> None:
        """A read must give `want`; on a replica-reading alias it may take `lag` seconds."""
        if not settle(lambda: get() == want, self.lag):
            expect(label, get(), want)

    def check(self, item: str, run: Callable[[], None]) -> None:
        reason = self.limit(item)
        if reason:
            self.results[item] = f"limitation: {reason}"
            return
        try:
            run()
            self.results[item] = "ok"
        except Exception as error:  # noqa: BLE001 - every failure is reported with its item
            self.results[item] = f"FAILED: {type(error).__name__}: {error}"


def checks(alias: Alias) -> dict[str, Callable[[], None]]:
    """The items that need no waiting, by name."""
    cache, key, read = alias.cache, alias.key, alias.read

    def unicode() -> None:
        cache.set(key("clé-ünïcode-✓"), "välüe ✓ 日本", 60)
        read("get of a unicode key", lambda: cache.get(key("clé-ünïcode-✓")), "välüe ✓ 日本")

    def add() -> None:
        expect("add of a new key", cache.add(key("add"), "first", 60), True)
        expect("add of an existing key", cache.add(key("add"), "second", 60), False)
        read("value after the second add", lambda: cache.get(key("add")), "first")

    def many() -> None:
        data = {key(f"many:{n}"): {"n": n} for n in range(MANY)}
        cache.set_many(data, 60)
        read(f"get_many of {MANY}", lambda: cache.get_many(list(data)), data)
        cache.delete_many(list(data))
        read("get_many after delete_many", lambda: cache.get_many(list(data)), {})

    def counters() -> None:
        cache.set(key("n"), 10, 60)
        expect("incr", cache.incr(key("n")), 11)
        expect("decr by 5", cache.decr(key("n"), 5), 6)
        try:
            cache.incr(key("missing"))
        except ValueError:
            return
        raise ContractError("incr of a missing key did not raise ValueError")

    def versions() -> None:
        cache.set(key("v"), "two", 60, version=2)
        read("get with the alias's version", lambda: cache.get(key("v")), None)
        read("get with version 2", lambda: cache.get(key("v"), version=2), "two")
        expect("incr_version to 3", cache.incr_version(key("v"), version=2), 3)
        read("get with version 3", lambda: cache.get(key("v"), version=3), "two")

    def large() -> None:
        value = b"\x00\xff" * (LARGE // 2)
        cache.set(key("large"), value, 60)
        read("get of a 512 KiB value", lambda: cache.get(key("large")), value)

    def has_key_touch() -> None:
        cache.set(key("t"), 1, 60)
        read("has_key of a set key", lambda: cache.has_key(key("t")), True)
        expect("has_key of a missing key", cache.has_key(key("nothing")), False)
        expect("touch of a set key", cache.touch(key("t"), 120), True)
        expect("touch of a missing key", cache.touch(key("nothing"), 120), False)

    def timeout_zero_and_none() -> None:
        cache.set(key("zero"), 1, 0)
        read("get after timeout 0", lambda: cache.get(key("zero")), None)
        cache.set(key("forever"), 1, None)
        read("get after timeout None", lambda: cache.get(key("forever")), 1)

    return {
        "unicode": unicode,
        "add": add,
        "many": many,
        "incr/decr": counters,
        "versions": versions,
        "512 KiB value": large,
        "has_key/touch": has_key_touch,
        "timeout 0/None": timeout_zero_and_none,
    }


def run(aliases: list[str] | None = None, destructive: bool = False) -> list[dict[str, Any]]:
    """Every item on every alias; the 1 s timeouts of all aliases are waited for once."""
    from django.conf import settings  # noqa: PLC0415 - imported once Django is configured
    from django.core.cache import caches  # noqa: PLC0415

    run_id = uuid.uuid4().hex[:8]
    tested = [
        Alias(name, settings.CACHES[name]["BACKEND"], caches[name], f"cwcontract:{run_id}:{name}")
        for name in (aliases or list(settings.CACHES))
    ]
    tested = [a for a in tested if a.backend != DUMMY]
    for alias in tested:
        if reads_from_replicas(alias.cache):
            alias.lag = REPLICA_LAG_S
            alias.results["read your writes"] = f"limitation: {REPLICA_READS}"
        for item, check in checks(alias).items():
            alias.check(item, check)
        alias.check("timeout 1 s", lambda a=alias: a.cache.set(a.key("short"), 1, 1))
    time.sleep(EXPIRY_WAIT)
    for alias in tested:
        if alias.results["timeout 1 s"] == "ok":
            alias.check("timeout 1 s", partial(expired, alias))
    if destructive:
        clear_isolation(tested)
    for alias in tested:
        alias.cache.delete_many(
            [alias.key(part) for part in ("clé-ünïcode-✓", "add", "n", "t", "large", "forever", "stay")]
        )
    return [{"alias": a.name, "backend": a.backend, "results": a.results} for a in tested]


def expired(alias: Alias) -> None:
    alias.read("get after 1 s", lambda: alias.cache.get(alias.key("short")), None)


def clear_isolation(tested: list[Alias]) -> None:
    """clear() of each alias in turn; every other alias keeps its key."""
    for alias in tested:
        for other in tested:
            other.cache.set(other.key("stay"), other.name, 300)
        for other in tested:  # a replica-reading alias waits until its replica has the key
            settle(lambda o=other: o.cache.get(o.key("stay")) == o.name, other.lag)

        def isolated(alias: Alias = alias) -> None:
            alias.cache.clear()
            own = alias.key("stay")
            alias.read("the alias's own key after its clear()", lambda: alias.cache.get(own), None)
            lost = [o.name for o in tested if o is not alias and o.cache.get(o.key("stay")) != o.name]
            if lost:
                raise ContractError(f"clear() also removed the keys of {', '.join(lost)}")

        alias.check("clear isolation", isolated)


def failures(results: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['alias']}: {item}: {outcome}"
        for r in results
        for item, outcome in r["results"].items()
        if outcome.startswith("FAILED")
    ]


def summary(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        passed = [i for i, o in r["results"].items() if o == "ok"]
        lines.append(f"{r['alias']:<14} {r['backend'].rsplit('.', 1)[-1]:<20} {len(passed)} ok")
        lines += [f"    {i}: {o}" for i, o in r["results"].items() if o != "ok"]
    return "\n".join(lines)

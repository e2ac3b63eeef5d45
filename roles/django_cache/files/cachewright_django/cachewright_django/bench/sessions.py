"""One worker's connection to what is measured, and the operations it can run.

A session is opened inside the worker thread that uses it (clients are per thread, as a
Django alias is per thread), maps key indices to the run's own key names and exposes
each operation as ``call(indices) -> hits`` (hits: keys found by a read, else 0).

Layers:

- ``django``: a Django cache backend (an alias, or Django's built-in RedisCache built for
  the comparison); every call passes ``version=BENCH_VERSION``;
- ``raw-redis-py``: redis-py without Django (no key function, no pickling);
- ``raw-pymemcache``: pymemcache's HashClient without Django;
- ``raw-pylibmc``: pylibmc's client without Django (for a PyLibMCCache alias).

Before a run's clock starts every worker calls :meth:`Session.connect`: a few reads of the
run's own keys open the connections to every server the session will use (clients connect
lazily, per server, on first use). A TLS handshake per server and worker is connection
set-up, not the cost of a cache call, and is never inside a measured window.

No session has a way to clear a cache: the bench never calls ``clear()``/FLUSHDB.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

from cachewright_django.bench import BENCH_VERSION
from cachewright_django.bench.workload import OPS

Operation = Callable[[Sequence[int]], int]
_MISSING = object()
# connect(): this many reads of this many keys each. The keys of a run hash to every server
# and cluster slot range; several reads reach each replica a client picks at random.
CONNECT_READS = 4
CONNECT_KEYS = 32


def operations(*calls: Operation) -> dict[str, Operation]:
    """Each operation's callable by name, given in the order of :data:`OPS`."""
    return dict(zip(OPS, calls, strict=True))


class Session(Protocol):
    """What the runner needs from a worker's connection."""

    def operation(self, op: str) -> Operation:
        """The callable for ``op`` (``get``, ``set_many``, ...)."""

    def connect(self) -> None:
        """Open the connections to every server this session uses (read-only)."""

    def populate(self, indices: Sequence[int], counters: bool = False) -> None:
        """Write the values (or counters set to 0) of these keys, before a measured read."""

    def remove(self, indices: Sequence[int]) -> None:
        """Delete these keys of the run (data and counters): the clean-up."""

    def close(self) -> None:
        """Release the worker's connections."""


class KeySpace:
    """The key names of one layer of one run: ``<prefix>k:<i>`` (data), ``<prefix>n:<i>`` (counters)."""

    def __init__(self, prefix: str, keys: int) -> None:
        self.prefix = prefix
        self.data = [f"{prefix}k:{i}" for i in range(keys)]
        self.counters = [f"{prefix}n:{i}" for i in range(keys)]


class DjangoSession:
    """A Django cache backend (an alias of ``caches``, or any BaseCache instance)."""

    def __init__(self, cache: Any, space: KeySpace, value: bytes, timeout: int) -> None:
        self.cache = cache
        self.space = space
        self.value = value
        self.timeout = timeout

    def operation(self, op: str) -> Operation:
        """Bound callables over the Django cache API, ``version=BENCH_VERSION`` on each."""
        cache, data, counters, value, timeout, v = (
            self.cache,
            self.space.data,
            self.space.counters,
            self.value,
            self.timeout,
            BENCH_VERSION,
        )

        def get(ix: Sequence[int]) -> int:
            return int(cache.get(data[ix[0]], _MISSING, version=v) is not _MISSING)

        def set_(ix: Sequence[int]) -> int:
            cache.set(data[ix[0]], value, timeout, version=v)
            return 0

        def delete(ix: Sequence[int]) -> int:
            cache.delete(data[ix[0]], version=v)
            return 0

        def add(ix: Sequence[int]) -> int:
            cache.add(data[ix[0]], value, timeout, version=v)
            return 0

        def incr(ix: Sequence[int]) -> int:
            cache.incr(counters[ix[0]], version=v)
            return 0

        def touch(ix: Sequence[int]) -> int:
            return int(bool(cache.touch(data[ix[0]], timeout, version=v)))

        def get_many(ix: Sequence[int]) -> int:
            return len(cache.get_many([data[i] for i in ix], version=v))

        def set_many(ix: Sequence[int]) -> int:
            cache.set_many({data[i]: value for i in ix}, timeout, version=v)
            return 0

        def delete_many(ix: Sequence[int]) -> int:
            cache.delete_many([data[i] for i in ix], version=v)
            return 0

        return operations(get, set_, delete, add, incr, touch, get_many, set_many, delete_many)[op]

    def connect(self) -> None:
        """get_many of some of the run's keys, a few times (replicas are picked at random)."""
        for _unused in range(CONNECT_READS):
            self.cache.get_many(self.space.data[:CONNECT_KEYS], version=BENCH_VERSION)

    def populate(self, indices: Sequence[int], counters: bool = False) -> None:
        """set_many of the values (or of integer 0 counters), in the given batch."""
        names = self.space.counters if counters else self.space.data
        self.cache.set_many(
            {names[i]: (0 if counters else self.value) for i in indices}, self.timeout, version=BENCH_VERSION
        )

    def remove(self, indices: Sequence[int]) -> None:
        """delete_many of the run's own keys (never clear())."""
        names = [self.space.data[i] for i in indices] + [self.space.counters[i] for i in indices]
        self.cache.delete_many(names, version=BENCH_VERSION)

    def close(self) -> None:
        """Django's end-of-request close of the backend."""
        self.cache.close()


class RedisSession:
    """redis-py without Django. Writes go to ``write``; reads to one of ``reads``
    (django-redis's rule: a random replica when there are several LOCATIONs)."""

    def __init__(
        self, write: Any, reads: Sequence[Any], space: KeySpace, value: bytes, timeout: int, *, cluster: bool
    ) -> None:
        self.write = write
        self.reads = list(reads) or [write]
        self.space = space
        self.value = value
        self.timeout = timeout
        self.cluster = cluster

    def _reader(self) -> Any:
        return self.reads[0] if len(self.reads) == 1 else random.choice(self.reads)

    def operation(self, op: str) -> Operation:
        """GET, SET EX, DEL, SET NX EX, INCR, EXPIRE, MGET, pipelined SET EX, DEL of many."""
        w, data, counters, value, ttl = (
            self.write,
            self.space.data,
            self.space.counters,
            self.value,
            self.timeout,
        )
        reader = self._reader
        mget_name = "mget_nonatomic" if self.cluster else "mget"

        def get(ix: Sequence[int]) -> int:
            return int(reader().get(data[ix[0]]) is not None)

        def set_(ix: Sequence[int]) -> int:
            w.set(data[ix[0]], value, ex=ttl)
            return 0

        def delete(ix: Sequence[int]) -> int:
            w.delete(data[ix[0]])
            return 0

        def add(ix: Sequence[int]) -> int:
            w.set(data[ix[0]], value, ex=ttl, nx=True)
            return 0

        def incr(ix: Sequence[int]) -> int:
            w.incr(counters[ix[0]])
            return 0

        def touch(ix: Sequence[int]) -> int:
            return int(bool(w.expire(data[ix[0]], ttl)))

        def get_many(ix: Sequence[int]) -> int:
            found = getattr(reader(), mget_name)([data[i] for i in ix])
            return sum(v is not None for v in found)

        def set_many(ix: Sequence[int]) -> int:
            pipe = w.pipeline(transaction=False)
            for i in ix:
                pipe.set(data[i], value, ex=ttl)
            pipe.execute()
            return 0

        def delete_many(ix: Sequence[int]) -> int:
            w.delete(*[data[i] for i in ix])
            return 0

        return operations(get, set_, delete, add, incr, touch, get_many, set_many, delete_many)[op]

    def connect(self) -> None:
        """MGET of some of the run's keys on every client (split per slot on a cluster)."""
        keys = self.space.data[:CONNECT_KEYS]
        for client in {id(c): c for c in [self.write, *self.reads]}.values():
            if self.cluster:
                client.mget_nonatomic(keys)
            else:
                client.mget(keys)

    def populate(self, indices: Sequence[int], counters: bool = False) -> None:
        """Pipelined SET EX of the values (or 0 counters)."""
        names = self.space.counters if counters else self.space.data
        pipe = self.write.pipeline(transaction=False)
        for i in indices:
            pipe.set(names[i], 0 if counters else self.value, ex=self.timeout)
        pipe.execute()

    def remove(self, indices: Sequence[int]) -> None:
        """DEL of the run's own keys."""
        self.write.delete(*[self.space.data[i] for i in indices], *[self.space.counters[i] for i in indices])

    def close(self) -> None:
        """Close the worker's clients (and their pools)."""
        for client in {id(c): c for c in [self.write, *self.reads]}.values():
            client.close()


class MemcacheSession:
    """pymemcache's HashClient without Django (replies awaited, as Django does).

    The operations are written once over the client's calls (:meth:`calls`): a subclass for
    another memcached library names its own calls and options.
    """

    def __init__(self, client: Any, space: KeySpace, value: bytes, timeout: int) -> None:
        self.client = client
        self.space = space
        self.value = value
        self.timeout = timeout

    def calls(self) -> tuple[Callable[..., Any], ...]:
        """get, set, delete, add, incr, touch, get_many, set_many, delete_many of the client,
        with the expiry and reply options bound (each takes the key(s), and the value)."""
        c, ttl = self.client, self.timeout
        return (
            c.get,
            partial(c.set, expire=ttl, noreply=False),
            partial(c.delete, noreply=False),
            partial(c.add, expire=ttl, noreply=False),
            partial(c.incr, value=1, noreply=False),
            partial(c.touch, expire=ttl, noreply=False),
            c.get_many,
            partial(c.set_many, expire=ttl, noreply=False),
            partial(c.delete_many, noreply=False),
        )

    def operation(self, op: str) -> Operation:
        """get, set, delete, add, incr, touch, get_many, set_many, delete_many of the client."""
        read, store, drop, add_, incr_, touch_, read_many, store_many, drop_many = self.calls()
        data, counters, value = self.space.data, self.space.counters, self.value

        def get(ix: Sequence[int]) -> int:
            return int(read(data[ix[0]]) is not None)

        def set_(ix: Sequence[int]) -> int:
            store(data[ix[0]], value)
            return 0

        def delete(ix: Sequence[int]) -> int:
            drop(data[ix[0]])
            return 0

        def add(ix: Sequence[int]) -> int:
            add_(data[ix[0]], value)
            return 0

        def incr(ix: Sequence[int]) -> int:
            incr_(counters[ix[0]])
            return 0

        def touch(ix: Sequence[int]) -> int:
            return int(bool(touch_(data[ix[0]])))

        def get_many(ix: Sequence[int]) -> int:
            return len(read_many([data[i] for i in ix]))

        def set_many(ix: Sequence[int]) -> int:
            store_many({data[i]: value for i in ix})
            return 0

        def delete_many(ix: Sequence[int]) -> int:
            drop_many([data[i] for i in ix])
            return 0

        return operations(get, set_, delete, add, incr, touch, get_many, set_many, delete_many)[op]

    def connect(self) -> None:
        """A multi-get of some of the run's keys (one request per server)."""
        self.calls()[6](self.space.data[:CONNECT_KEYS])

    def populate(self, indices: Sequence[int], counters: bool = False) -> None:
        """A multi-set of the values (or b"0" counters)."""
        names = self.space.counters if counters else self.space.data
        self.calls()[7]({names[i]: (b"0" if counters else self.value) for i in indices})

    def remove(self, indices: Sequence[int]) -> None:
        """A multi-delete of the run's own keys."""
        self.calls()[8]([self.space.data[i] for i in indices] + [self.space.counters[i] for i in indices])

    def close(self) -> None:
        """Close the HashClient's sockets."""
        self.client.close()


class PyLibMCSession(MemcacheSession):
    """pylibmc's client without Django: the raw ceiling of a PyLibMCCache alias."""

    def calls(self) -> tuple[Callable[..., Any], ...]:
        """pylibmc's calls: expiry as ``time``, replies always awaited, ``*_multi`` for many."""
        c, ttl = self.client, self.timeout
        return (
            c.get,
            partial(c.set, time=ttl),
            c.delete,
            partial(c.add, time=ttl),
            c.incr,
            lambda key: c.touch(key, ttl),  # touch() takes no keyword arguments
            c.get_multi,
            partial(c.set_multi, time=ttl),
            c.delete_multi,
        )

    def close(self) -> None:
        """Drop the client's connections."""
        self.client.disconnect_all()

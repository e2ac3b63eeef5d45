"""pymemcache backends: a leaner PyMemcacheCache, and one over TLS with plain-literal settings.

``LeanPyMemcacheCache`` is Django's PyMemcacheCache (same cache API, same key rules, same
HashClient with its retry and dead-server handling) with two costs per call removed:

- the server of a key: pymemcache's rendezvous hash scores every server with a pure-Python
  murmur3 on each call. :class:`RendezvousNodeCache` keeps the winner of the last
  :data:`NODE_CACHE_KEYS` keys per server list (the same function decides a key it has not
  seen), and forgets them all when a server leaves or rejoins the ring;
- the key check: Django looks at every character of a key in Python;
  :meth:`LeanPyMemcacheCache.validate_key` does it with one regular expression and raises
  Django's own message for a key it refuses.

``PyMemcacheTLSCache``: Django's PyMemcacheCache takes TLS as OPTIONS ``tls_context``, an
``ssl.SSLContext`` object,
which a generated settings file cannot hold as a literal. This backend takes the file names
instead and builds the context once per process::

    "OPTIONS": {"tls": {"ca_certs": "/etc/...", "certfile": "...", "keyfile": "..."}, ...}

The server's certificate is verified against ``ca_certs`` and its host name is checked.

Over TLS, memcached (1.6.18 and 1.6.38, Debian 12 and 13) stops answering a pipelined request
of many small commands once it is larger than its 16 KiB read buffer: the command cut at the
buffer's end waits for bytes the TLS layer already holds, and the client times out. The
client of this backend therefore sends set_many() and get_many() in requests of at most
:data:`REQUEST_BYTES` each (one larger item goes alone, which memcached handles).
"""

from __future__ import annotations

import atexit
import contextlib
import re
import ssl
import time
import weakref
from functools import lru_cache
from typing import Any

from django.core.cache.backends.base import MEMCACHE_MAX_KEY_LENGTH, InvalidCacheKey, memcache_key_warnings
from django.core.cache.backends.memcached import PyMemcacheCache
from django.utils.functional import cached_property
from pymemcache.client.hash import HashClient
from pymemcache.client.rendezvous import RendezvousHash
from pymemcache.exceptions import MemcacheUnexpectedCloseError

# The largest request set_many() and get_many() send at once (half of memcached's read buffer).
REQUEST_BYTES = 8192
# What a storage command adds to its key and value: "set <key> <flags> <exptime> <bytes>\r\n", "\r\n".
COMMAND_BYTES = 48
# Keys whose server is remembered, per server list and process (about 150 bytes each).
NODE_CACHE_KEYS = 16384
# Changes a server missed, remembered per server and process until it takes them; past this
# many, the server is flushed when it is back instead.
PENDING_KEYS = 10000
# How long a process that ends waits for its servers to take the changes they missed.
EXIT_DELIVERY_S = 2.0
# The pymemcache Client methods that change keys (their first argument: a key, or a list).
CHANGES = frozenset(
    {"set", "add", "replace", "append", "prepend", "cas", "incr", "decr", "delete", "delete_many", "touch"}
)
MANY_KEYS = frozenset({"delete_many"})
# The pymemcache Client methods that read keys: not sent to a server before it took its notes.
READS = frozenset({"get", "get_many", "gets", "gets_many"})
# What Django refuses in a memcached key besides its length: control characters and space.
_REFUSED_CHARACTER = re.compile("[\x00-\x20\x7f]")


@lru_cache(maxsize=NODE_CACHE_KEYS)
def _winner(nodes: tuple[str, ...], seed: int, key: str) -> str | None:
    """pymemcache's rendezvous choice of a server for a key (its own code, unchanged)."""
    return RendezvousHash(list(nodes), seed).get_node(key)


class RendezvousNodeCache(RendezvousHash):
    """pymemcache's RendezvousHash (murmur3) that remembers the server of recent keys.

    The memory is shared by every client with the same servers in this process; a server
    that leaves or rejoins changes the server list, so no choice made before is reused.
    """

    def __init__(self, nodes: list[str] | None = None, seed: int = 0) -> None:
        super().__init__(nodes, seed)
        self._key = tuple(self.nodes)

    def add_node(self, node: str) -> None:
        super().add_node(node)
        self._key = tuple(self.nodes)

    def remove_node(self, node: str) -> None:
        super().remove_node(node)
        self._key = tuple(self.nodes)

    def get_node(self, key: str) -> str | None:
        return _winner(self._key, self.seed, key) if self._key else None


class LeanHashClient(HashClient):
    """pymemcache's HashClient whose server choice is remembered (RendezvousNodeCache), and
    that delivers the invalidations a server missed before that server is read again.

    A change of a key (set, add, delete, incr, ...) that did not reach its server - the
    server was down or restarting, or failing within its retry time - leaves that server
    with the key's old value, and a warm restart brings it back with it. The key is noted
    for that server (at most PENDING_KEYS per server; past that, the server is to be
    flushed), and before this process sends that server anything else, the notes are
    delivered (delete_many, or flush_all): a read of a key this process changed or deleted
    never returns the value from before. A server that cannot take the notes yet is not
    asked: a read is a miss, a write fails and is noted too. Limits: the notes live in this
    process: while any are pending, every call of this process first delivers those whose
    server's retry time has passed, and a process that ends normally waits up to
    EXIT_DELIVERY_S for them (atexit); one killed before that takes them along. Another
    process may read the old value between the server's return and this process's next
    call. The server of a key never changes here while it is down (with the backends'
    dead_timeout 0 it does not leave the ring), so nothing is read elsewhere.
    """

    def __init__(self, servers: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("hasher", RendezvousNodeCache)
        super().__init__(servers, *args, **kwargs)
        self._pending: dict[Any, dict[Any, None]] = {}
        self._flush: set[Any] = set()
        # When _deliver_due last tried each server (a server that is down costs a call of
        # another server's key at most one attempt per retry time).
        self._tried: dict[Any, float] = {}
        _CLIENTS.add(self)

    def pending(self) -> int:
        """How many servers have changes this process still has to deliver."""
        return len(set(self._pending) | self._flush)

    def deliver_pending(self, wait: float = 0.0, every: float = 0.1) -> int:
        """Deliver every server's missed changes, trying for up to `wait` seconds; how many
        servers still have some."""
        deadline = time.monotonic() + wait
        while True:
            self._deliver_due()
            left = self.pending()
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(every)

    def _deliver_due(self) -> None:
        """Try each server that has missed changes and whose retry time has passed."""
        if not (self._pending or self._flush):
            return
        noted = set(self._pending) | self._flush
        now = time.monotonic()
        for client in list(self.clients.values()):
            if client.server in noted and now - self._tried.get(client.server, 0.0) > self.retry_timeout:
                self._tried[client.server] = now
                self._deliver(client)

    def _note(self, server: Any, keys: Any) -> None:
        """Remember that these keys' changes did not reach `server`."""
        if server in self._flush:
            return
        pending = self._pending.setdefault(server, {})
        pending.update(dict.fromkeys(keys))
        if len(pending) > PENDING_KEYS:
            self._flush.add(server)
            self._pending.pop(server, None)

    def _deliver(self, client: Any) -> bool:
        """Deliver what `client`'s server missed; whether it has nothing pending now."""
        server = client.server
        if server not in self._pending and server not in self._flush:
            return True
        failed = self._failed_clients.get(server)
        if failed and time.time() - failed["failed_time"] <= self.retry_timeout:
            return False
        try:
            if server in self._flush:
                client.flush_all(noreply=False)
            else:
                client.delete_many(list(self._pending[server]), noreply=False)
        except Exception:  # noqa: BLE001 - whatever a client raises, the server did not take them
            self._mark_failed_server(server)
            return False
        self._flush.discard(server)
        self._pending.pop(server, None)
        self._failed_clients.pop(server, None)
        return True

    def _safely_run_func(self, client: Any, func: Any, default_val: Any, *args: Any, **kwargs: Any) -> Any:
        self._deliver_due()
        name = getattr(func, "__name__", "")
        changes = name in CHANGES
        keys = (args[0] if name in MANY_KEYS else [args[0]]) if changes and args else []
        delivered = self._deliver(client)
        if not delivered and name not in READS | CHANGES:
            # close, quit, stats...: nothing of the keys is read or changed.
            delivered = True
        if not delivered:
            self._note(client.server, keys)
            if not self.ignore_exc:
                raise MemcacheUnexpectedCloseError(f"{client.server}: earlier changes not delivered yet")
            return default_val
        reached = False

        def tracked(*inner: Any, **named: Any) -> Any:
            nonlocal reached
            result = func(*inner, **named)
            reached = True
            return result

        try:
            return super()._safely_run_func(client, tracked, default_val, *args, **kwargs)
        finally:
            if changes and not reached:
                self._note(client.server, keys)

    def _safely_run_set_many(self, client: Any, values: Any, *args: Any, **kwargs: Any) -> Any:
        self._deliver_due()
        if not self._deliver(client):
            self._note(client.server, list(values))
            if not self.ignore_exc:
                raise MemcacheUnexpectedCloseError(f"{client.server}: earlier changes not delivered yet")
            return list(values)
        failed = list(values)
        try:
            failed = super()._safely_run_set_many(client, values, *args, **kwargs)
            return failed
        finally:
            if failed:
                self._note(client.server, failed)


_CLIENTS: weakref.WeakSet[LeanHashClient] = weakref.WeakSet()


@atexit.register
def _deliver_at_exit() -> None:
    """A process that ends delivers what its servers missed, if they take it in time."""
    for client in list(_CLIENTS):
        with contextlib.suppress(Exception):
            client.deliver_pending(EXIT_DELIVERY_S)


def _length(key: Any) -> int:
    return len(key.encode() if isinstance(key, str) else key)


def _batches(items: list[Any], size: Any) -> Any:
    """items in consecutive batches of at most REQUEST_BYTES by size(item); one larger item alone."""
    batch: list[Any] = []
    total = 0
    for item in items:
        length = size(item)
        if batch and total + length > REQUEST_BYTES:
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += length
    if batch:
        yield batch


class TLSHashClient(LeanHashClient):
    """pymemcache's HashClient whose set_many() and get_many() send bounded requests."""

    def set_many(self, values: dict[Any, Any], *args: Any, **kwargs: Any) -> list[Any]:
        serde = self.default_kwargs.get("serde")

        def size(key: Any) -> int:
            value = serde.serialize(key, values[key])[0] if serde else values[key]
            return (
                _length(key)
                + _length(value if isinstance(value, str | bytes) else str(value))
                + COMMAND_BYTES
            )

        failed: list[Any] = []
        for batch in _batches(list(values), size):
            failed += super().set_many({key: values[key] for key in batch}, *args, **kwargs)
        return failed

    set_multi = set_many

    def get_many(self, keys: Any, gets: bool = False, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        for batch in _batches(list(keys), lambda key: _length(key) + 1):
            found.update(super().get_many(batch, gets, *args, **kwargs))
        return found

    get_multi = get_many


@lru_cache(maxsize=8)
def client_context(ca_certs: str, certfile: str = "", keyfile: str = "") -> ssl.SSLContext:
    """A verifying TLS client context, with this host's client certificate when given."""
    context = ssl.create_default_context(cafile=ca_certs)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile:
        context.load_cert_chain(certfile, keyfile or None)
    return context


class LeanPyMemcacheCache(PyMemcacheCache):
    """Django's PyMemcacheCache with the server choice remembered and a faster key check."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = LeanHashClient

    def validate_key(self, key: str) -> None:
        """Django's memcached key rules: at most 250 characters, no control character or space."""
        if len(key) > MEMCACHE_MAX_KEY_LENGTH or _REFUSED_CHARACTER.search(key):
            for warning in memcache_key_warnings(key):
                raise InvalidCacheKey(warning)


class PyMemcacheTLSCache(LeanPyMemcacheCache):
    """LeanPyMemcacheCache whose OPTIONS['tls'] names the CA and client certificate files.

    The files are read when the alias is first used, not when settings are loaded.
    """

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self._tls: dict[str, str] = options.pop("tls", None) or {}
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._class = TLSHashClient

    @cached_property
    def _cache(self) -> Any:
        options = dict(self._options)
        if self._tls:
            options["tls_context"] = client_context(
                self._tls["ca_certs"], self._tls.get("certfile", ""), self._tls.get("keyfile", "")
            )
        return self._class(self.client_servers, **options)

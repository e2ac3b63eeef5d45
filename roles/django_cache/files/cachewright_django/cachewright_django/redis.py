"""django-redis clients that touch only their alias's own keys, with the commands an ACL user
without ``@dangerous`` has.

django-redis's ``clear()`` is FLUSHDB - refused to such a user, and when allowed it empties
the whole database, other apps' keys too, whatever KEY_PREFIX - and ``keys()`` is KEYS,
refused as well (and blocking a large server). These clients find the alias's keys with
SCAN MATCH on its key function's pattern (every version of its KEY_PREFIX) and remove them
with UNLINK in batches::

    "OPTIONS": {"CLIENT_CLASS": "cachewright_django.redis.DefaultClient"}   # or SentinelClient

With Django's own Redis backend, ``"BACKEND": "cachewright_django.redis.RedisCache"`` does the
same for clear() (it has no keys()). The cluster client
(``cachewright_django.redis_cluster.RedisClusterClient``) does the same on every primary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django_redis.client.default import DefaultClient as DjangoRedisDefaultClient
from django_redis.client.default import glob_escape
from django_redis.client.sentinel import SentinelClient as DjangoRedisSentinelClient
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

ERRORS = (RedisConnectionError, RedisTimeoutError, ResponseError)
# Keys asked for per SCAN step, and removed per UNLINK.
BATCH = 1000


def unlink_all(client: Any, keys: Iterable[Any], batch: int = BATCH) -> int:
    """UNLINK the keys in batches (the server frees their memory in the background)."""
    removed, chunk = 0, []
    for key in keys:
        chunk.append(key)
        if len(chunk) >= batch:
            removed += int(client.unlink(*chunk))
            chunk = []
    if chunk:
        removed += int(client.unlink(*chunk))
    return removed


def alias_pattern(backend: Any) -> str:
    """SCAN MATCH pattern of every key of a Django cache backend, whatever its version: the
    backend's key function with the escaped KEY_PREFIX and any integer for the version (so
    that "django" does not take the keys of a "django:admin" prefix either)."""
    return str(backend.key_func("*", glob_escape(backend.key_prefix), "[-0-9]*"))


class PrefixScoped:
    """clear(), keys() and delete_pattern() with SCAN + UNLINK, on the alias's keys only."""

    # What a client's errors are (django-redis turns them into ConnectionInterrupted).
    errors: tuple[type[Exception], ...] = ERRORS

    def alias_pattern(self) -> str:
        """Every key of the alias, whatever its (integer) version."""
        return alias_pattern(self._backend)  # type: ignore[attr-defined]

    def scan(self, client: Any, pattern: str, itersize: int | None = None) -> Iterator[Any]:
        return client.scan_iter(match=pattern, count=itersize or BATCH)

    def clear(self, client: Any = None) -> None:
        client = client or self.get_client(write=True)  # type: ignore[attr-defined]
        try:
            unlink_all(client, self.scan(client, self.alias_pattern()))
        except self.errors as error:
            raise ConnectionInterrupted(connection=client) from error

    def delete_pattern(
        self,
        pattern: str,
        version: int | None = None,
        prefix: str | None = None,
        client: Any = None,
        itersize: int | None = None,
    ) -> int:
        client = client or self.get_client(write=True)  # type: ignore[attr-defined]
        made = self.make_pattern(pattern, version=version, prefix=prefix)  # type: ignore[attr-defined]
        try:
            return unlink_all(client, self.scan(client, made, itersize))
        except self.errors as error:
            raise ConnectionInterrupted(connection=client) from error

    def keys(self, search: str, version: int | None = None, client: Any = None) -> list[Any]:
        """As iter_keys (SCAN), collected: KEYS is refused to the alias's ACL user."""
        try:
            return list(self.iter_keys(search, version=version, client=client))  # type: ignore[attr-defined]
        except self.errors as error:
            raise ConnectionInterrupted(connection=client) from error


class DefaultClient(PrefixScoped, DjangoRedisDefaultClient):
    """django-redis's DefaultClient; clear()/keys()/delete_pattern() on the alias's keys only."""


class SentinelClient(PrefixScoped, DjangoRedisSentinelClient):
    """django-redis's SentinelClient; clear()/keys()/delete_pattern() on the alias's keys only."""


class RedisCache(DjangoRedisCache):
    """Django's built-in RedisCache; clear() on the alias's keys only (SCAN + UNLINK)."""

    def clear(self) -> None:
        client = self._cache.get_client(None, write=True)
        unlink_all(client, client.scan_iter(match=alias_pattern(self), count=BATCH))

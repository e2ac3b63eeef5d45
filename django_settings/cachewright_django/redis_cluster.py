"""A django-redis client for Redis Cluster, built on redis-py's ``redis.cluster.RedisCluster``.

django-redis 7 has no cluster client (django-redis#606), and the old
``rediscluster`` package cannot be installed beside it. Use::

    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": ["redis://node-1:7000", "redis://node-2:7000"],  # any nodes: startup nodes
            "KEY_PREFIX": "myapp",
            "OPTIONS": {
                "CLIENT_CLASS": "cachewright_django.redis_cluster.RedisClusterClient",
                # Optional, passed to RedisCluster: username, password, ssl, ssl_ca_certs, ...
                "CONNECTION_POOL_KWARGS": {"username": "app", "password": "..."},
            },
        }
    }

The whole Django cache API works as on one Redis: multi-key operations that plain Redis
Cluster refuses across slots (MGET -> CROSSSLOT) are split per slot, and the commands
that must see every key (keys, iter_keys, delete_pattern, clear) run on every primary.
A ``rediss://`` LOCATION turns TLS on. A cluster has only database 0.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured
from django_redis.client.default import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

CLUSTER_ERRORS = (RedisConnectionError, RedisTimeoutError, ResponseError, RedisClusterException)


def startup_nodes(locations: Iterable[str]) -> tuple[list[ClusterNode], dict[str, Any]]:
    """The cluster nodes named by LOCATION, and the credentials/TLS the URLs carry."""
    nodes, kwargs = [], {}
    for location in locations:
        url = urlparse(location if "://" in location else f"redis://{location}")
        if url.path not in ("", "/", "/0"):
            raise ImproperlyConfigured(f"Redis Cluster has only database 0, not {url.path!r} in {location!r}")
        nodes.append(ClusterNode(url.hostname or "localhost", url.port or 6379))
        if url.scheme == "rediss":
            kwargs["ssl"] = True
        if url.username:
            kwargs["username"] = url.username
        if url.password:
            kwargs["password"] = url.password
    return nodes, kwargs


class RedisClusterClient(DefaultClient):
    """django-redis client whose raw client is a ``RedisCluster`` (one per cache alias)."""

    def __init__(self, server: Any, params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        # One RedisCluster knows every node: all LOCATIONs are its startup nodes.
        self._clients = [None]

    def get_next_client_index(self, write: bool = True, tried: list[int] | None = None) -> int:
        return 0

    def connect(self, index: int = 0) -> RedisCluster:
        nodes, url_kwargs = startup_nodes(self._server)
        kwargs: dict[str, Any] = {
            "socket_timeout": self._options.get("SOCKET_TIMEOUT"),
            "socket_connect_timeout": self._options.get("SOCKET_CONNECT_TIMEOUT"),
            **url_kwargs,
            **self._options.get("CONNECTION_POOL_KWARGS", {}),
        }
        return RedisCluster(startup_nodes=nodes, **{k: v for k, v in kwargs.items() if v is not None})

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        client = client or self._clients[0]
        if client is not None:
            client.close()

    def get_many(self, keys: Collection[str], version: int | None = None, client: Any = None) -> dict:
        """MGET split per slot (mget_nonatomic): keys may live on different nodes."""
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        map_keys = {self.make_key(k, version=version): k for k in keys}
        try:
            results = client.mget_nonatomic(list(map_keys))
        except CLUSTER_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return {
            map_keys[key]: self.decode(value)
            for key, value in zip(map_keys, results, strict=True)
            if value is not None
        }

    def delete_many(self, keys: Iterable[str], version: int | None = None, client: Any = None) -> int:
        """DEL split per slot by RedisCluster."""
        if client is None:
            client = self.get_client(write=True)
        made = [self.make_key(k, version=version) for k in keys]
        if not made:
            return 0
        try:
            return int(client.delete(*made))
        except CLUSTER_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc

    def delete_pattern(
        self,
        pattern: str,
        version: int | None = None,
        prefix: str | None = None,
        client: Any = None,
        itersize: int | None = None,
    ) -> int:
        """SCAN every primary, delete what matches (each key on its own node)."""
        if client is None:
            client = self.get_client(write=True)
        made = self.make_pattern(pattern, version=version, prefix=prefix)
        try:
            keys = list(client.scan_iter(match=made, count=itersize))
            return int(client.delete(*keys)) if keys else 0
        except CLUSTER_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc

    def iter_keys(
        self, search: str, itersize: int | None = None, client: Any = None, version: int | None = None
    ) -> Iterator[str]:
        """SCAN over every primary."""
        if client is None:
            client = self.get_client(write=False)
        pattern = self.make_pattern(search, version=version)
        for item in client.scan_iter(match=pattern, count=itersize):
            yield self.reverse_key(item.decode() if isinstance(item, bytes) else item)

    def keys(self, search: str, version: int | None = None, client: Any = None) -> list[Any]:
        """KEYS on every primary, results merged (prefer iter_keys on large caches)."""
        if client is None:
            client = self.get_client(write=False)
        pattern = self.make_pattern(search, version=version)
        try:
            found = client.keys(pattern, target_nodes=RedisCluster.PRIMARIES)
        except CLUSTER_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return [self.reverse_key(k.decode() if isinstance(k, bytes) else k) for k in found]

    def clear(self, client: Any = None) -> None:
        """FLUSHDB on every primary (as on one Redis: the whole database, whatever the prefix)."""
        if client is None:
            client = self.get_client(write=True)
        try:
            client.flushdb(target_nodes=RedisCluster.PRIMARIES)
        except CLUSTER_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc

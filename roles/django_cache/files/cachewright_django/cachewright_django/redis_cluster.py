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
that must see every key (keys, iter_keys, delete_pattern, clear) SCAN every primary and
touch only the alias's own keys.
A ``rediss://`` LOCATION turns TLS on. A cluster has only database 0.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured
from django_redis.client.default import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterError, RedisClusterException, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cachewright_django.redis import PrefixScoped

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


class RedisClusterClient(PrefixScoped, DefaultClient):
    """django-redis client whose raw client is a ``RedisCluster`` (one per cache alias).

    clear(), keys() and delete_pattern() SCAN every primary for the alias's own keys and
    UNLINK them split per slot (cachewright_django.redis.PrefixScoped).
    """

    errors = CLUSTER_ERRORS

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
        """MGET split per slot (mget_nonatomic): keys may live on different nodes.

        While a slot moves to another node key by key (a rebalance, a shard added or removed),
        an MGET of its keys answers TRYAGAIN until they are all on one node; then every key is
        asked alone (a pipeline of GETs), each following ASK to where it is now."""
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        map_keys = {self.make_key(k, version=version): k for k in keys}
        try:
            try:
                results = client.mget_nonatomic(list(map_keys))
            except (TryAgainError, ClusterError):
                pipe = client.pipeline()
                for key in map_keys:
                    pipe.get(key)
                results = pipe.execute()
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

"""The server software behind an alias, as a label: ``Valkey 8.1.1``, ``Redis 7.0.15``,
``memcached 1.6.18``; the backend kind for a cache without a server (``local memory``,
``database``, ``filesystem``); ``Redis 7.0.15 + Valkey 8.1.1`` when the servers of one
alias differ.

The servers are the ones the alias's raw target reaches (:mod:`.raw`): the same hosts,
credentials and TLS files as the application; every Redis server of a replicated or
Sentinel alias, every node of a cluster, every memcached server. Connect and read timeouts
are capped at :data:`PROBE_TIMEOUT_S`, so an unreachable server costs seconds, not the
system's TCP timeout.

Nothing here raises: a server that cannot be read counts as ``unknown`` beside the others
(no label at all when none can be read), and the reason is returned for the run's notes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cachewright_django.bench.raw import (
    MemcachedTarget,
    PyLibMCTarget,
    RedisEndpoint,
    RedisTarget,
    UnsupportedError,
    backend_kind,
    raw_target,
)
from cachewright_django.bench.runner import error_text

# The longest a server may take to accept the connection and to answer.
PROBE_TIMEOUT_S = 5.0
# Several labels of one alias are joined with this; a server that could not be read is UNKNOWN.
JOIN = " + "
UNKNOWN = "unknown"
# The label of a cache that has no server, by backend_kind.
KIND_LABELS = {
    "locmem": "local memory",
    "database": "database",
    "filesystem": "filesystem",
    "dummy": "dummy",
}
# How INFO's server_name is written in a label (other names are kept as the server gives them).
SERVER_NAMES = {"redis": "Redis", "valkey": "Valkey"}
# The timeouts capped at PROBE_TIMEOUT_S: redis-py's and pymemcache's keyword arguments.
REDIS_TIMEOUTS = ("socket_timeout", "socket_connect_timeout")
MEMCACHE_TIMEOUTS = ("connect_timeout", "timeout")

# One server read: its label, or None and why not.
Reading = tuple[str | None, str | None]


# ---------------------------------------------------------------- labels


def redis_label(info: Mapping[str, Any]) -> str | None:
    """The label of a Redis-protocol server from the fields of its ``INFO server``.

    Valkey names itself (``server_name:valkey``) and gives its own version in
    ``valkey_version``; its ``redis_version`` is the Redis version it is compatible with,
    never used for it. Without ``server_name`` the server is Redis (``redis_version``).
    None when the reply holds neither a name nor a version.
    """
    name = str(info.get("server_name") or "").strip().lower()
    if not name and "redis_version" not in info:
        return None
    name = name or "redis"
    version = str(info.get(f"{name}_version") or "").strip()
    display = SERVER_NAMES.get(name, name)
    return f"{display} {version}" if version else display


def hello_label(reply: Any) -> str | None:
    """The label of a Redis-protocol server from its ``HELLO 2`` reply (``server``, ``version``):
    ``redis`` and ``7.0.15``, or ``valkey`` and ``8.1.1``. None when it names neither."""
    if isinstance(reply, (list, tuple)):
        reply = dict(zip(reply[0::2], reply[1::2], strict=False))
    fields = {_text(k).lower(): _text(v) for k, v in dict(reply or {}).items()}
    name = fields.get("server", "").strip().lower()
    if not name:
        return None
    version = fields.get("version", "").strip()
    display = SERVER_NAMES.get(name, name)
    return f"{display} {version}" if version else display


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def redis_server_label(client: Any) -> str | None:
    """A server's label through a connection of the alias's own user: ``HELLO 2``, which every
    ACL user may send (an app user is often refused INFO, one of the @dangerous commands),
    else ``INFO server`` (a server older than HELLO)."""
    try:
        return hello_label(client.execute_command("HELLO", "2"))
    except Exception:  # noqa: BLE001 - no HELLO (Redis < 6): INFO, whose error is the one recorded
        return redis_label(client.info("server"))


def memcached_label(version: bytes | str | None) -> str | None:
    """``memcached 1.6.18`` from the ``version`` command's reply or the ``version`` stat."""
    text = version.decode("ascii", "replace") if isinstance(version, bytes) else str(version or "")
    text = text.strip()
    return f"memcached {text}" if text else None


def join_labels(labels: Iterable[str | None]) -> str | None:
    """The distinct labels in order of appearance, joined with `` + ``; a server without a label
    shows as ``unknown`` beside labelled ones; None when no server has a label."""
    found = list(labels)
    if not any(found):
        return None
    return JOIN.join(dict.fromkeys(label or UNKNOWN for label in found))


# ---------------------------------------------------------------- reading the servers


def _capped(kwargs: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The keyword arguments with each timeout in ``names`` at most PROBE_TIMEOUT_S."""
    capped = dict(kwargs)
    for name in names:
        capped[name] = min(float(kwargs.get(name) or PROBE_TIMEOUT_S), PROBE_TIMEOUT_S)
    return capped


def _capped_endpoint(endpoint: RedisEndpoint) -> RedisEndpoint:
    return dataclasses.replace(endpoint, kwargs=_capped(endpoint.kwargs, REDIS_TIMEOUTS))


def _read(where: str, read: Callable[[], str | None]) -> Reading:
    """The label ``read`` returns, or None and ``where: <the error>``."""
    try:
        return read(), None
    except Exception as exc:  # noqa: BLE001 - an unreadable server is recorded, never fatal
        return None, f"{where}: {error_text(exc)}"


def _redis_endpoint_label(endpoint: RedisEndpoint) -> str | None:
    client = _capped_endpoint(endpoint).client()
    try:
        return redis_server_label(client)
    finally:
        client.close()


def _redis_readings(target: RedisTarget) -> list[Reading]:
    """Every server of a standalone, replicated or Sentinel alias (primary and replicas)."""
    return [_read(f"{e.host}:{e.port}", lambda e=e: _redis_endpoint_label(e)) for e in target.endpoints]


def _cluster_readings(target: RedisTarget) -> list[Reading]:
    """Every node of the cluster, as the cluster client discovers them from the startup nodes."""
    capped = dataclasses.replace(target, endpoints=[_capped_endpoint(e) for e in target.endpoints])
    try:
        cluster = capped.cluster_client()
    except Exception as exc:  # noqa: BLE001 - no startup node answers: recorded
        return [(None, f"cluster {target.primary.host}:{target.primary.port}: {error_text(exc)}")]
    try:
        return [
            _read(
                f"{node.host}:{node.port}",
                lambda node=node: redis_server_label(cluster.get_redis_connection(node)),
            )
            for node in cluster.get_nodes()
        ]
    finally:
        cluster.close()


def _memcached_readings(target: MemcachedTarget) -> list[Reading]:
    """Every server of a pymemcache alias: its ``version`` command."""
    capped = dataclasses.replace(target, kwargs=_capped(target.kwargs, MEMCACHE_TIMEOUTS))
    client = capped.client()
    try:
        return [
            _read(str(key), lambda server=server: memcached_label(server.version()))
            for key, server in client.clients.items()
        ]
    finally:
        client.close()


def _pylibmc_stats(target: PyLibMCTarget) -> list[tuple[Any, Mapping[str, Any]]]:
    client = target.client()
    try:
        return list(client.get_stats())
    finally:
        client.disconnect_all()


def _pylibmc_readings(target: PyLibMCTarget) -> list[Reading]:
    """Every server of a pylibmc alias: the ``version`` of its stats."""
    try:
        stats = _pylibmc_stats(target)
    except Exception as exc:  # noqa: BLE001 - recorded
        return [(None, f"{', '.join(target.servers)}: {error_text(exc)}")]
    return [(memcached_label(found.get("version")), None) for _unused, found in stats]


def target_readings(target: RedisTarget | MemcachedTarget | PyLibMCTarget) -> list[Reading]:
    """One reading per server the target reaches."""
    if isinstance(target, RedisTarget):
        return _cluster_readings(target) if target.topology == "cluster" else _redis_readings(target)
    if isinstance(target, MemcachedTarget):
        return _memcached_readings(target)
    return _pylibmc_readings(target)


def alias_server(cache: Any, target: Any = None) -> tuple[str | None, list[str]]:
    """The server label of an alias and the problems met reading it.

    ``target`` is the alias's raw target when the bench has already derived it; else it is
    derived here. Caches without a server get their kind's label; other backends None.
    """
    kind = backend_kind(cache)
    if kind in KIND_LABELS:
        return KIND_LABELS[kind], []
    if kind not in ("redis", "memcached"):
        return None, []
    try:
        target = target or raw_target(cache)
    except UnsupportedError as exc:
        return None, [str(exc)]
    except Exception as exc:  # noqa: BLE001 - e.g. no Sentinel answers: recorded
        return None, [f"deriving the connection failed: {error_text(exc)}"]
    readings = target_readings(target)
    return join_labels(label for label, _unused in readings), [error for _unused, error in readings if error]

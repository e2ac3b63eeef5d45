# SPDX-License-Identifier: Apache-2.0
"""Django CACHES from the inventory: the servers the other roles deployed, in user terms.

Three steps, each a filter:

* ``django_cache_topology(aliases, hostvars, groups, app_tls)``: what the aliases need to know
  about the servers (addresses, ports, TLS, ACL users, Sentinel, cluster), read from the
  server hosts' own variables -- the ones roles/redis_server, roles/redis_sentinel and
  roles/memcached used -- with those roles' defaults where the inventory sets nothing.
* ``django_cache_plan(aliases, topology, settings)``: the CACHES dict and everything around it
  (session settings, DB cache tables, file cache directories, extra packages, CA files), or
  a ``problems`` list that names each bad declaration.
* ``django_cache_module(plan, settings)``: the Python module the app's settings import, with
  CACHES printed as Python literals.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.model import (
    memcached_client_host,
    number_problem,
    redis_client_host,
)

BACKENDS = ("redis", "memcached", "database", "file", "locmem", "dummy", "tiered")
REDIS_TOPOLOGIES = ("auto", "single", "replicas", "sentinel", "cluster")
COMPRESSORS: dict[str, tuple[str, str | None]] = {
    "none": ("", None),
    "zlib": ("django_redis.compressors.zlib.ZlibCompressor", None),
    "gzip": ("django_redis.compressors.gzip.GzipCompressor", None),
    "lzma": ("django_redis.compressors.lzma.LzmaCompressor", None),
    "lz4": ("django_redis.compressors.lz4.Lz4Compressor", "lz4"),
    "zstd": ("django_redis.compressors.zstd.ZStdCompressor", "pyzstd"),
}
SERIALIZERS: dict[str, tuple[str, str | None]] = {
    "pickle": ("", None),
    "json": ("django_redis.serializers.json.JSONSerializer", None),
    "msgpack": ("django_redis.serializers.msgpack.MSGPackSerializer", "msgpack"),
}
DJANGO = "django.core.cache.backends."
TIERED = "cachewright_django.tiered.TieredCache"
CLUSTER_CLIENT = "cachewright_django.redis_cluster.RedisClusterClient"
# Clients and backend whose clear()/keys() touch only the alias's keys, with the commands an
# ACL user without @dangerous has (SCAN + UNLINK instead of FLUSHDB and KEYS).
REDIS_CLIENTS = "cachewright_django.redis."
# Django's PyMemcacheCache with the server of recent keys remembered and a faster key check.
PYMEMCACHE = "cachewright_django.memcached.LeanPyMemcacheCache"
PYMEMCACHE_TLS = "cachewright_django.memcached.PyMemcacheTLSCache"
# The defaults of roles/redis_server, roles/redis_sentinel and roles/memcached that matter to
# clients, used when the inventory does not set the variable (role defaults are not hostvars).
# Every number an alias may set: (integer only, lowest, highest). Timeouts are seconds (None:
# never expire; 0: do not cache); ten years at most, beyond which memcached's absolute
# timestamps and Redis's expiries stop meaning what the user wrote. cull_frequency 0 is
# Django's "clear the whole cache when it is full".
TEN_YEARS = 10 * 365 * 86400
NUMBERS: dict[str, tuple[bool, float, float]] = {
    "timeout": (False, 0, TEN_YEARS),
    "version": (True, 1, 2**31 - 1),
    "db": (True, 0, 2**31 - 1),
    "max_entries": (True, 1, 2**31 - 1),
    "cull_frequency": (True, 0, 1000),
    "max_connections": (True, 1, 100000),
    "max_pool_size": (True, 1, 100000),
    "socket_timeout": (False, 0.001, 300),
    "socket_connect_timeout": (False, 0.001, 300),
}
# Numbers that may be null: the timeout (never expire), the culling ones (Django's defaults).
NULLABLE = ("timeout", "max_entries", "cull_frequency")


# ----------------------------------------------------------------------------------------------
# Topology: read the server hosts' variables
# ----------------------------------------------------------------------------------------------
def django_cache_topology(
    aliases: Mapping[str, Any], hostvars: Mapping[str, Any], groups: Mapping[str, list[str]]
) -> dict[str, Any]:
    """The server groups the aliases name, as plain data (see the module docstring)."""
    wanted: dict[str, set[str]] = {"redis": set(), "memcached": set()}
    for spec in (aliases or {}).values():
        backend = (spec or {}).get("backend")
        if backend in wanted and spec.get("group"):
            wanted[backend].add(spec["group"])
            if backend == "redis":
                wanted["redis"].add(spec.get("sentinel_group") or "redis_sentinel")
    topology: dict[str, Any] = {"redis": {}, "memcached": {}}
    reader = {"redis": redis_client_host, "memcached": memcached_client_host}
    for kind, names in wanted.items():
        for group in sorted(names):
            if group in groups:
                topology[kind][group] = [reader[kind](h, hostvars[h]) for h in groups[group]]
    return topology


# ----------------------------------------------------------------------------------------------
# Plan: the CACHES dict and what the host needs around it
# ----------------------------------------------------------------------------------------------
class _Plan:
    """Collects the result and the problems while the aliases are turned into CACHES."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.problems: list[str] = []
        self.caches: dict[str, dict[str, Any]] = {}
        self.tables: list[dict[str, str]] = []
        self.dirs: list[str] = []
        self.packages: set[str] = set()
        self.ca_files: set[str] = set()
        self.client_certificate = False
        self.persistent: dict[str, bool] = {}
        self.used_dbs: dict[tuple[str, str, int], str] = {}
        # The alias that holds sessions (django_cache_sessions_alias, else "sessions").
        self.sessions_alias = ""

    def problem(self, alias: str, text: str) -> None:
        self.problems.append(f"alias {alias!r}: {text}")

    # The client side of TLS: the CA bundle the role installs, and this app host's client cert.
    def tls_files(self, alias: str, ca_file: str, require_cert: bool) -> dict[str, str]:
        tls = self.settings["tls"]
        if ca_file:
            self.ca_files.add(ca_file)
        files = {"ca_certs": tls["ca_bundle"]}
        if tls["certificate"]:
            self.client_certificate = True
            files.update(certfile=tls["certificate_dest"], keyfile=tls["private_key_dest"])
        elif require_cert:
            self.problem(
                alias,
                "the servers require client certificates, but this app host has none "
                "(set cache_pki_client_certificate: true for it, or django_cache_tls_certificate)",
            )
        return files


def _numbers_ok(alias: str, spec: Mapping[str, Any], plan: _Plan) -> bool:
    """Every number of the alias in its bounds (timeouts: None too); each problem names its key."""
    found = []
    for key, (integer, low, high) in NUMBERS.items():
        unset = key not in spec or (key in NULLABLE and spec[key] is None)
        if not unset and (problem := number_problem(spec[key], integer, low, high)):
            found.append(f"{key} {problem} (django_cache_aliases.{alias}.{key})")
    timeouts = spec.get("timeouts")
    if timeouts is not None and not isinstance(timeouts, list):
        found.append(f"timeouts {timeouts!r} is not a list (django_cache_aliases.{alias}.timeouts)")
    for index, value in enumerate(timeouts if isinstance(timeouts, list) else []):
        if value is not None and (problem := number_problem(value, False, 0, TEN_YEARS)):
            found.append(f"timeouts[{index}] {problem} (django_cache_aliases.{alias}.timeouts)")
    for text in found:
        plan.problem(alias, text)
    return not found


def _entry(backend: str, spec: Mapping[str, Any], plan: _Plan, keyed: bool = True) -> dict[str, Any]:
    """BACKEND and TIMEOUT, and (for backends that store keys) KEY_PREFIX and VERSION."""
    entry: dict[str, Any] = {"BACKEND": backend}
    if "timeout" in spec:
        entry["TIMEOUT"] = spec["timeout"]
    if keyed:
        entry["KEY_PREFIX"] = spec.get("key_prefix", plan.settings["key_prefix"])
        entry["VERSION"] = int(spec.get("version", 1))
    return entry


def _culling(spec: Mapping[str, Any]) -> dict[str, Any]:
    options = {}
    if spec.get("max_entries") is not None:
        options["MAX_ENTRIES"] = int(spec["max_entries"])
    if spec.get("cull_frequency") is not None:
        options["CULL_FREQUENCY"] = int(spec["cull_frequency"])
    return options


def _servers(
    alias: str, spec: Mapping[str, Any], plan: _Plan, kind: str, topology: Mapping[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(host, instance) pairs of the alias's group and instance, or [] with a problem."""
    group = spec.get("group")
    if not group:
        plan.problem(alias, f"a {kind} alias needs `group:` (an inventory group of {kind} hosts)")
        return []
    hosts = topology.get(kind, {}).get(group)
    if hosts is None:
        plan.problem(alias, f"group {group!r} is not in the inventory")
        return []
    if not hosts:
        plan.problem(alias, f"group {group!r} has no hosts")
        return []
    default_instance = "cache" if kind == "redis" else hosts[0]["instances"][0]["name"]
    name = spec.get("instance") or default_instance
    pairs = [(h, i) for h in hosts for i in h["instances"] if i["name"] == name]
    if not pairs:
        known = sorted({i["name"] for h in hosts for i in h["instances"]})
        plan.problem(alias, f"no {kind} instance {name!r} in group {group!r} (instances: {', '.join(known)})")
    return pairs


def _redis_user(alias: str, spec: Mapping[str, Any], plan: _Plan, host: dict, inst: dict) -> dict | None:
    users = [u for u in host["users"] if not u["instances"] or inst["name"] in u["instances"]]
    wanted = spec.get("user")
    if wanted:
        chosen = next((u for u in users if u["name"] == wanted), None)
        if chosen is None:
            plan.problem(
                alias,
                f"ACL user {wanted!r} is not in redis_server_users of {host['host']} for instance "
                f"{inst['name']!r} (users: {', '.join(u['name'] for u in users) or 'none'})",
            )
        return chosen
    if len(users) == 1:
        return users[0]
    plan.problem(
        alias,
        f"instance {inst['name']!r} has {len(users)} app users in redis_server_users "
        f"({', '.join(u['name'] for u in users) or 'none'}): name one with `user:` "
        "(Cachewright's Redis has no default user)",
    )
    return None


def _check_key_pattern(alias: str, plan: _Plan, user: dict, prefix: str) -> None:
    """The user's ACL key patterns must cover every key of the alias (prefix:version:key)."""
    probe = f"{prefix}:1:any-key" if prefix else "any-key"
    patterns = [k.lstrip("~%RW") for k in user["keys"]]
    if not any(p in ("*", "allkeys") or fnmatch.fnmatchcase(probe, p) for p in patterns):
        plan.problem(
            alias,
            f"KEY_PREFIX {prefix!r} is outside ACL user {user['name']!r}'s key patterns "
            f"{user['keys']}: its keys look like {probe!r}",
        )


def _redis_topology(alias: str, spec: Mapping[str, Any], plan: _Plan, pairs: list, sentinels: list) -> str:
    wanted = spec.get("topology", "auto")
    if wanted not in REDIS_TOPOLOGIES:
        plan.problem(alias, f"topology {wanted!r} is not one of {', '.join(REDIS_TOPOLOGIES)}")
        return "single"
    inst = pairs[0][1]
    monitored = [m for s in sentinels for m in s["sentinel"]["monitors"] if _monitors(m, pairs)]
    if wanted == "auto":
        if inst["cluster"]:
            return "cluster"
        if monitored:
            return "sentinel"
        return "replicas" if len(pairs) > 1 else "single"
    if wanted == "cluster" and not inst["cluster"]:
        plan.problem(alias, f"topology cluster, but instance {inst['name']!r} has no cluster_enabled")
    if wanted == "sentinel" and not monitored:
        plan.problem(alias, f"topology sentinel, but no Sentinel monitors instance {inst['name']!r}")
    if wanted == "single" and len(pairs) > 1:
        plan.problem(alias, f"topology single, but instance {inst['name']!r} runs on {len(pairs)} hosts")
    return str(wanted)


def _reads_from_replicas(alias: str, spec: Mapping[str, Any], plan: _Plan) -> bool:
    """Reads go to the primary unless the alias asks for replicas; never for sessions.

    Replication is asynchronous: a read from a replica right after a write may miss it (the
    lab saw up to 28 of 60 reads of 512 KiB values miss), and a session written at login
    would be gone on the next request.
    """
    wanted = bool(spec.get("read_from_replicas", False))
    if wanted and alias == plan.sessions_alias:
        plan.problem(
            alias,
            "read_from_replicas: it holds the sessions, and a replica may not have a session written "
            "a moment ago (replication is asynchronous); read sessions from the primary",
        )
    return wanted


def _monitors(monitor: Mapping[str, Any], pairs: list) -> bool:
    return any(monitor["host"] == h["host"] and monitor["instance"] == i["name"] for h, i in pairs)


def _redis_primary_first(alias: str, plan: _Plan, pairs: list) -> list:
    """Primary first, then its replicas (replicaof names the primary's host and instance)."""
    primaries = [(h, i) for h, i in pairs if not i["replicaof"]]
    if len(primaries) != 1:
        plan.problem(
            alias,
            f"instance {pairs[0][1]['name']!r} has {len(primaries)} primaries in its group "
            f"({', '.join(h['host'] for h, _unused in primaries) or 'none'}); "
            "a replicas alias needs exactly one",
        )
        return pairs
    primary = primaries[0]
    replicas = [
        (h, i) for h, i in pairs if i["replicaof"] and i["replicaof"].get("host") == primary[0]["host"]
    ]
    return [primary, *replicas]


@dataclass
class _Target:
    """Where a Redis alias points: its (host, instance) pairs and how it reaches them."""

    pairs: list
    kind: str
    use_tls: bool
    db: int
    user: dict | None
    sentinels: list = field(default_factory=list)
    replica_reads: bool = False


def _redis(alias: str, spec: Mapping[str, Any], plan: _Plan, topology: Mapping[str, Any]) -> dict | None:
    pairs = _servers(alias, spec, plan, "redis", topology)
    if not pairs:
        return None
    client = spec.get("client", "django-redis")
    sentinels = topology["redis"].get(spec.get("sentinel_group") or "redis_sentinel") or []
    kind = _redis_topology(alias, spec, plan, pairs, sentinels)
    host, inst = pairs[0]
    tls = host["tls"]
    if spec.get("tls") is True and not tls:
        plan.problem(alias, f"tls: true, but instance {inst['name']!r} of group {spec['group']!r} has no TLS")
    if spec.get("tls") is False and tls and inst["port"] is None:
        plan.problem(alias, f"tls: false, but instance {inst['name']!r} listens on TLS only")
    use_tls = tls if spec.get("tls") is None else bool(spec["tls"]) and tls
    db = int(spec.get("db", 0))
    if kind == "cluster" and db != 0:
        plan.problem(alias, "a Redis Cluster has only database 0")
    elif not 0 <= db < inst["databases"]:
        plan.problem(alias, f"db {db} is outside instance {inst['name']!r}'s {inst['databases']} databases")
    owner = plan.used_dbs.setdefault((spec["group"], inst["name"], db), alias)
    if owner != alias:
        plan.problem(
            alias,
            f"shares db {db} of instance {inst['name']!r} with alias {owner!r}: clear() of one would "
            "flush the other; give it another `db:` or instance",
        )
    user = _redis_user(alias, spec, plan, host, inst)
    prefix = spec.get("key_prefix", plan.settings["key_prefix"])
    if user:
        _check_key_pattern(alias, plan, user, prefix)
    plan.persistent[alias] = inst["persistence"] != "none"
    target = _Target(pairs, kind, use_tls, db, user, sentinels, _reads_from_replicas(alias, spec, plan))
    if client == "django":
        return _redis_builtin(alias, spec, plan, target)
    if client != "django-redis":
        plan.problem(alias, f"client {client!r} is not django-redis or django")
        return None
    return _redis_django_redis(alias, spec, plan, target)


def _read_order(alias: str, plan: _Plan, target: _Target) -> list:
    """The (host, instance) pairs of LOCATION: the primary, then the replicas if read from."""
    pairs = target.pairs
    ordered = _redis_primary_first(alias, plan, pairs) if target.kind == "replicas" else pairs[:1]
    return ordered if target.replica_reads else ordered[:1]


def _url(host: dict, inst: dict, use_tls: bool, db: int | None) -> str:
    port = inst["tls_port"] if use_tls else inst["port"]
    path = "" if db is None else f"/{db}"
    return f"{'rediss' if use_tls else 'redis'}://{host['address']}:{port}{path}"


def _redis_tls_kwargs(alias: str, plan: _Plan, host: dict, use_tls: bool) -> dict[str, Any]:
    if not use_tls:
        return {}
    files = plan.tls_files(alias, host["ca_file"], host["tls_auth_clients"] == "yes")
    kwargs: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_ca_certs": files["ca_certs"]}
    if "certfile" in files:
        kwargs.update(ssl_certfile=files["certfile"], ssl_keyfile=files["keyfile"])
    return kwargs


def _redis_builtin(alias: str, spec: Mapping[str, Any], plan: _Plan, target: _Target) -> dict | None:
    kind, use_tls, db, user = target.kind, target.use_tls, target.db, target.user
    if kind in ("sentinel", "cluster"):
        plan.problem(alias, f"Django's built-in RedisCache has no {kind} support: use client django-redis")
        return None
    for key in ("compressor", "serializer"):
        if spec.get(key) not in (None, "none", "pickle"):
            plan.problem(alias, f"{key} {spec[key]!r} needs client django-redis")
    ordered = _read_order(alias, plan, target)
    entry = _entry(REDIS_CLIENTS + "RedisCache", spec, plan)
    locations = [_url(h, i, use_tls, None) for h, i in ordered]
    entry["LOCATION"] = locations[0] if len(locations) == 1 else locations
    options: dict[str, Any] = {
        "db": db,
        "max_connections": int(spec.get("max_connections", 50)),
        "socket_timeout": float(spec.get("socket_timeout", 1.0)),
        "socket_connect_timeout": float(spec.get("socket_connect_timeout", 1.0)),
        "health_check_interval": 30,
    }
    if user:
        options.update(username=user["name"], password=user["password"])
    options.update(_redis_tls_kwargs(alias, plan, ordered[0][0], use_tls))
    entry["OPTIONS"] = {**options, **(spec.get("options") or {})}
    if spec.get("ignore_exceptions"):
        plan.problem(alias, "ignore_exceptions needs client django-redis (Django's RedisCache raises)")
    return entry


def _codecs(alias: str, spec: Mapping[str, Any], plan: _Plan) -> dict[str, str]:
    """django-redis COMPRESSOR / SERIALIZER options, and the packages they need."""
    options: dict[str, str] = {}
    choices = (("compressor", COMPRESSORS, "COMPRESSOR"), ("serializer", SERIALIZERS, "SERIALIZER"))
    for key, table, option in choices:
        choice = spec.get(key) or next(iter(table))
        if choice not in table:
            plan.problem(alias, f"{key} {choice!r} is not one of {', '.join(table)}")
            continue
        path, package = table[choice]
        if path:
            options[option] = path
        if package:
            plan.packages.add(package)
    return options


def _redis_django_redis(alias: str, spec: Mapping[str, Any], plan: _Plan, target: _Target) -> dict | None:
    pairs, kind, use_tls, db, user = target.pairs, target.kind, target.use_tls, target.db, target.user
    sentinels = target.sentinels
    entry = _entry("django_redis.cache.RedisCache", spec, plan)
    pool: dict[str, Any] = {
        "max_connections": int(spec.get("max_connections", 50)),
        "health_check_interval": 30,
    }
    if user:
        pool.update(username=user["name"], password=user["password"])
    options: dict[str, Any] = {
        "SOCKET_TIMEOUT": float(spec.get("socket_timeout", 1.0)),
        "SOCKET_CONNECT_TIMEOUT": float(spec.get("socket_connect_timeout", 1.0)),
    }
    if kind == "sentinel":
        service = next(m["name"] for s in sentinels for m in s["sentinel"]["monitors"] if _monitors(m, pairs))
        # One URL: SentinelClient adds a pool of the replicas for reads; a list of it alone
        # keeps every read on the primary.
        location = f"redis://{service}/{db}"
        entry["LOCATION"] = location if target.replica_reads else [location]
        sentinel0 = sentinels[0]["sentinel"]
        sentinel_kwargs: dict[str, Any] = {}
        if sentinel0["password"]:
            sentinel_kwargs["password"] = sentinel0["password"]
        if sentinel0["tls"]:
            sentinel_host = {**sentinels[0], "tls_auth_clients": sentinel0["tls_auth_clients"]}
            tls_kwargs = _redis_tls_kwargs(alias, plan, sentinel_host, True)
            sentinel_kwargs.update(ssl=True, **tls_kwargs)
        if use_tls:
            # rediss:// does not work through Sentinel: ssl goes in the pool kwargs.
            pool.update(ssl=True, **_redis_tls_kwargs(alias, plan, pairs[0][0], True))
        options.update(
            CLIENT_CLASS=REDIS_CLIENTS + "SentinelClient",
            CONNECTION_FACTORY="cachewright_django.sentinel.SentinelConnectionFactory",
            SENTINELS=[(s["sentinel"]["address"], s["sentinel"]["port"]) for s in sentinels],
            SENTINEL_KWARGS=sentinel_kwargs,
        )
    elif kind == "cluster":
        entry["LOCATION"] = [_url(h, i, use_tls, None) for h, i in pairs]
        options["CLIENT_CLASS"] = CLUSTER_CLIENT
        pool.update(_redis_tls_kwargs(alias, plan, pairs[0][0], use_tls))
    else:
        ordered = _read_order(alias, plan, target)
        locations = [_url(h, i, use_tls, db) for h, i in ordered]
        entry["LOCATION"] = locations[0] if len(locations) == 1 else locations
        options["CLIENT_CLASS"] = REDIS_CLIENTS + "DefaultClient"
        pool.update(_redis_tls_kwargs(alias, plan, ordered[0][0], use_tls))
    options.update(_codecs(alias, spec, plan))
    if spec.get("ignore_exceptions"):
        options["IGNORE_EXCEPTIONS"] = True
    options["CONNECTION_POOL_KWARGS"] = pool
    entry["OPTIONS"] = {**options, **(spec.get("options") or {})}
    return entry


def _memcached(alias: str, spec: Mapping[str, Any], plan: _Plan, topology: Mapping[str, Any]) -> dict | None:
    pairs = _servers(alias, spec, plan, "memcached", topology)
    if not pairs:
        return None
    client = spec.get("client", "pymemcache")
    host0, inst0 = pairs[0]
    locations = [f"{h['address']}:{i['port']}" for h, i in pairs]
    plan.persistent[alias] = False
    if client == "pymemcache":
        if inst0["sasl"]:
            plan.problem(
                alias, f"instance {inst0['name']!r} uses SASL, which pymemcache lacks: use client pylibmc"
            )
        options: dict[str, Any] = {
            "ignore_exc": bool(spec.get("ignore_exceptions", False)),
            "no_delay": True,
            "use_pooling": True,
            "max_pool_size": int(spec.get("max_pool_size", 4)),
            "connect_timeout": float(spec.get("socket_connect_timeout", 1.0)),
            "timeout": float(spec.get("socket_timeout", 1.0)),
            # A server that fails is tried again at once instead of being dropped from the
            # hash ring for a minute: its keys never move to another server, where they
            # would be stale once it is back (a restart, a rolling restart).
            "dead_timeout": 0,
        }
        backend = PYMEMCACHE
        if inst0["tls"]:
            backend = PYMEMCACHE_TLS
            options["tls"] = plan.tls_files(alias, host0["ca_file"], host0["verify_clients"])
        if spec.get("tls") is True and not inst0["tls"]:
            plan.problem(alias, f"tls: true, but memcached instance {inst0['name']!r} has no TLS")
    elif client == "pylibmc":
        if inst0["tls"]:
            plan.problem(
                alias, f"instance {inst0['name']!r} uses TLS, which pylibmc lacks: use client pymemcache"
            )
        # The binary protocol only where SASL needs it: with the libmemcached 1.0.16 that
        # pylibmc 1.6.3's wheel bundles, a binary touch() of an existing key stalls 5 s.
        options = {
            "binary": bool(spec.get("binary", inst0["sasl"])),
            "behaviors": {"tcp_nodelay": True, "ketama": True},
        }
        backend = DJANGO + "memcached.PyLibMCCache"
        plan.packages.add("pylibmc")
        if inst0["sasl"]:
            users = host0["users"]
            user = next(
                (u for u in users if u["name"] == spec.get("user")), users[0] if len(users) == 1 else None
            )
            if user is None:
                plan.problem(alias, "SASL instance: name one of memcached_sasl_users with `user:`")
            else:
                options.update(username=user["name"], password=user["password"])
    else:
        plan.problem(alias, f"client {client!r} is not pymemcache or pylibmc")
        return None
    entry = _entry(backend, spec, plan)
    entry["LOCATION"] = locations[0] if len(locations) == 1 else locations
    entry["OPTIONS"] = {**options, **(spec.get("options") or {})}
    return entry


def _inside(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _overlap(one: str, other: str) -> bool:
    """Whether one directory holds the other, either way."""
    return _inside(one, other) or _inside(other, one)


def _file(alias: str, spec: Mapping[str, Any], plan: _Plan) -> dict | None:
    path = spec.get("path")
    if not path or not posixpath.isabs(path):
        plan.problem(alias, f"a file alias needs an absolute `path:`, not {path!r}")
        return None
    for name in ("media_root", "static_root"):
        root = plan.settings.get(name)
        if root and _overlap(path, root):
            plan.problem(
                alias,
                f"cache directory {path} overlaps {name.upper()} {root}: cache files are pickles, "
                "anyone who can write or serve them can run code in the app",
            )
            return None
    plan.dirs.append(posixpath.normpath(path))
    plan.persistent[alias] = True
    entry = _entry(DJANGO + "filebased.FileBasedCache", spec, plan)
    entry["LOCATION"] = posixpath.normpath(path)
    if culling := _culling(spec):
        entry["OPTIONS"] = culling
    return entry


def _database(alias: str, spec: Mapping[str, Any], plan: _Plan) -> dict | None:
    table = spec.get("table")
    if not table or not str(table).replace("_", "").isalnum():
        plan.problem(alias, f"a database alias needs `table:` (letters, digits, '_'), not {table!r}")
        return None
    database = spec.get("database", "default")
    if database not in plan.settings["databases"]:
        plan.problem(
            alias, f"database {database!r} is not in DATABASES ({', '.join(plan.settings['databases'])})"
        )
    # The router sends a table to one database: a name serves one alias, on one database.
    clash = next((t for t in plan.tables if t["table"] == table), None)
    if clash:
        owner = f"alias {clash['alias']!r} (database {clash['database']!r})"
        plan.problem(alias, f"table {table!r} is already the table of {owner}")
    plan.tables.append({"alias": alias, "table": str(table), "database": database})
    plan.persistent[alias] = True
    entry = _entry(DJANGO + "db.DatabaseCache", spec, plan)
    entry["LOCATION"] = str(table)
    if culling := _culling(spec):
        entry["OPTIONS"] = culling
    return entry


def _simple(alias: str, spec: Mapping[str, Any], plan: _Plan, backend: str) -> dict:
    if backend == "dummy":
        return _entry(DJANGO + "dummy.DummyCache", spec, plan, keyed=False)
    entry = _entry(DJANGO + "locmem.LocMemCache", spec, plan)
    entry["LOCATION"] = spec.get("location", alias)
    if culling := _culling(spec):
        entry["OPTIONS"] = culling
    return entry


def _tiered(alias: str, spec: Mapping[str, Any], plan: _Plan, aliases: Mapping[str, Any]) -> dict | None:
    tiers = list(spec.get("tiers") or [])
    timeouts = spec.get("timeouts")
    write_to = spec.get("write_to", "all")
    bad = False
    if len(tiers) < 2:
        plan.problem(alias, "a tiered alias needs `tiers:`, at least two other aliases, fastest first")
        return None
    for tier in tiers:
        if tier == alias:
            plan.problem(alias, "a tiered alias cannot be one of its own tiers")
            bad = True
        elif tier not in aliases:
            plan.problem(alias, f"tier {tier!r} is not a declared alias")
            bad = True
        elif (aliases[tier] or {}).get("backend") == "tiered":
            plan.problem(alias, f"tier {tier!r} is itself tiered; tiers must be plain aliases")
            bad = True
    if len(set(tiers)) != len(tiers):
        plan.problem(alias, "a tier is named twice")
        bad = True
    if timeouts is not None and len(timeouts) != len(tiers):
        plan.problem(alias, f"timeouts has {len(timeouts)} entries for {len(tiers)} tiers")
        bad = True
    if write_to != "all" and write_to not in tiers:
        plan.problem(alias, f"write_to {write_to!r} is not 'all' or one of the tiers")
        bad = True
    if bad:
        return None
    entry = _entry(TIERED, spec, plan, keyed=False)
    options: dict[str, Any] = {
        "TIERS": tiers,
        "WRITE_TO": write_to,
        "PROMOTE": bool(spec.get("promote", True)),
    }
    if timeouts is not None:
        options["TIMEOUTS"] = list(timeouts)
    entry["OPTIONS"] = options
    plan.persistent[alias] = any(plan.persistent.get(t, False) for t in tiers)
    return entry


def _sessions_alias(plan: _Plan, aliases: Mapping[str, Any]) -> str:
    wanted = plan.settings.get("sessions_alias")
    return str(wanted) if wanted else ("sessions" if "sessions" in aliases else "")


def _sessions(plan: _Plan, aliases: Mapping[str, Any]) -> dict[str, Any]:
    """SESSION_ENGINE / SESSION_CACHE_ALIAS when a sessions alias is declared."""
    name = plan.sessions_alias
    if not name:
        return {}
    if name not in aliases:
        plan.problems.append(f"django_cache_sessions_alias {name!r} is not a declared alias")
        return {}
    engine = plan.settings.get("session_engine") or "auto"
    spec = aliases[name] or {}
    if engine == "auto":
        # Sessions only in a cache are lost with it; with IGNORE_EXCEPTIONS and a dead Redis,
        # session creation retries 10,000 times and then raises. cached_db keeps them in the DB.
        durable = plan.persistent.get(name, False) and not spec.get("ignore_exceptions")
        engine = "cache" if durable else "cached_db"
    if engine not in ("cache", "cached_db"):
        plan.problems.append(f"django_cache_session_engine {engine!r} is not auto, cache or cached_db")
        return {}
    return {"SESSION_ENGINE": f"django.contrib.sessions.backends.{engine}", "SESSION_CACHE_ALIAS": name}


def django_cache_plan(
    aliases: Mapping[str, Any], topology: Mapping[str, Any], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything the role renders and creates, or the problems of the declaration."""
    plan = _Plan(settings)
    aliases = aliases or {}
    plan.sessions_alias = _sessions_alias(plan, aliases)
    if "default" not in aliases:
        plan.problems.append("django_cache_aliases has no 'default' alias (Django requires one)")
    # Tiered aliases last: they read the other aliases' persistence.
    order = sorted(aliases, key=lambda a: (aliases[a] or {}).get("backend") == "tiered")
    for alias in order:
        spec = aliases[alias] or {}
        if not isinstance(alias, str) or not alias:
            plan.problems.append(
                f"alias name {alias!r} is not a string (quote it: YAML reads off/no/yes as booleans)"
            )
            continue
        backend = spec.get("backend")
        if backend not in BACKENDS:
            plan.problem(alias, f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
            continue
        if not _numbers_ok(alias, spec, plan):
            continue
        if backend == "redis":
            entry = _redis(alias, spec, plan, topology)
        elif backend == "memcached":
            entry = _memcached(alias, spec, plan, topology)
        elif backend == "database":
            entry = _database(alias, spec, plan)
        elif backend == "file":
            entry = _file(alias, spec, plan)
        elif backend == "tiered":
            entry = _tiered(alias, spec, plan, aliases)
        else:
            entry = _simple(alias, spec, plan, backend)
        if entry is not None:
            plan.caches[alias] = entry
    session = _sessions(plan, aliases)
    return {
        "problems": plan.problems,
        "caches": {a: plan.caches[a] for a in aliases if a in plan.caches},
        "session": session,
        "tables": plan.tables,
        "dirs": sorted(set(plan.dirs)),
        "packages": sorted(plan.packages),
        "ca_files": sorted(plan.ca_files),
        "client_certificate": plan.client_certificate,
    }


# ----------------------------------------------------------------------------------------------
# Module: the Python file the app's settings import
# ----------------------------------------------------------------------------------------------
class _Code(str):
    """Python source that _py writes as it is (a call that reads a secret), not as a literal."""


SECRET_NAME = re.compile(r"[^a-z0-9]+")


def _secret_name(path: tuple[str, ...]) -> str:
    """The file (or environment variable) name of the secret at a path in CACHES."""
    return SECRET_NAME.sub("_", "_".join(path).lower()).strip("_")


def _is_secret(key: str, value: Any) -> bool:
    return "password" in key.lower() and isinstance(value, str) and bool(value)


def django_cache_secrets(plan: Mapping[str, Any]) -> dict[str, str]:
    """Every password of the settings' CACHES, by the name the module reads it under."""
    found: dict[str, str] = {}

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if _is_secret(str(key), item):
                    found[_secret_name((*path, str(key)))] = item
                else:
                    walk(item, (*path, str(key)))

    walk(plan["caches"], ())
    return found


def _secret_references(value: Any, path: tuple[str, ...] = ()) -> Any:
    """CACHES with each password replaced by the call that reads it."""
    if isinstance(value, Mapping):
        return {
            key: _Code(f"_secret({_secret_name((*path, str(key)))!r})")
            if _is_secret(str(key), item)
            else _secret_references(item, (*path, str(key)))
            for key, item in value.items()
        }
    return value


def _secret_reader(mode: str, env_prefix: str, directory: str) -> list[str]:
    """The module's _secret(): each password from a file only the app's user reads, or from
    the app service's environment."""
    if mode == "env":
        return [
            "",
            "def _secret(name: str) -> str:",
            f'    """A password, from the environment the app\'s service sets ({env_prefix}<NAME>)."""',
            f"    variable = {env_prefix!r} + name.upper()",
            "    if variable not in os.environ:",
            "        raise RuntimeError(f'cache settings: {variable} is not in the environment')",
            "    return os.environ[variable]",
            "",
            "",
        ]
    where = f"Path({directory!r})" if directory else "Path(__file__).resolve().with_suffix('.secrets')"
    return [
        "",
        f"_SECRETS = {where}",
        "",
        "",
        "def _secret(name: str) -> str:",
        '    """A password, from its file in _SECRETS (readable by the app\'s user only)."""',
        "    return (_SECRETS / name).read_text(encoding='utf-8').rstrip('\\n')",
        "",
        "",
    ]


def _py(value: Any, level: int = 0) -> str:
    """A value as a Python literal, one dict item per line, short lists on one line."""
    if isinstance(value, _Code):
        return str(value)
    pad, inner = "    " * level, "    " * (level + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{inner}{str(k)!r}: {_py(v, level + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list | tuple):
        flat = "[" + ", ".join(_py(v, level + 1) for v in value) + "]"
        if len(flat) + len(inner) <= 96 and "\n" not in flat:
            return flat
        return "[\n" + "\n".join(f"{inner}{_py(v, level + 1)}," for v in value) + f"\n{pad}]"
    return repr(value)


ROUTER = "cachewright_django.routers.CacheRouter"


def _routers(tables: list[Mapping[str, Any]]) -> list[str]:
    """Each DatabaseCache table on its database: without a router Django queries `default`."""
    if not tables:
        return ["CACHEWRIGHT_DATABASE_ROUTERS: list[str] = []", ""]
    return [
        "# Each DatabaseCache table on its own database (cachewright_django.routers.CacheRouter).",
        "# Settings with routers of their own: DATABASE_ROUTERS = [*CACHEWRIGHT_DATABASE_ROUTERS, ...]",
        "CACHEWRIGHT_CACHE_DATABASES = " + _py({t["table"]: t["database"] for t in tables}),
        f"CACHEWRIGHT_DATABASE_ROUTERS = [{ROUTER!r}]",
        "DATABASE_ROUTERS = list(CACHEWRIGHT_DATABASE_ROUTERS)",
        "",
    ]


def django_cache_module(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """The settings module: CACHES (and session settings) as Python literals.

    settings["secrets"]: ``inline`` writes the passwords as literals; ``files`` (the default)
    reads each at import from a file of its own (settings["secrets_dir"], else the directory
    ``<module>.secrets`` beside the module); ``env`` from the environment
    (settings["secrets_env_prefix"] + the name in capitals).
    """
    env = settings.get("disable_env") or ""
    mode = settings.get("secrets") or "files"
    lines = [
        f"# {settings.get('header', 'Managed by Ansible (roles/django_cache). Do not edit.')}",
        "# Import it from the app's settings: from .cache_settings import *",
        '"""Django cache settings generated by Cachewright from the inventory."""',
        "",
    ]
    caches = plan["caches"]
    secrets = mode != "inline" and bool(django_cache_secrets(plan))
    imports = ["import os"] if env or mode == "env" else []
    if secrets and mode == "files":
        imports.append("from pathlib import Path")
    if imports:
        lines += [*imports, ""]
    if secrets:
        lines += _secret_reader(
            mode, settings.get("secrets_env_prefix") or "CACHEWRIGHT_", settings.get("secrets_dir") or ""
        )
        caches = _secret_references(caches)
    lines += ["CACHES = " + _py(caches), ""]
    lines += _routers(plan.get("tables") or [])
    for key, value in plan.get("session", {}).items():
        lines.append(f"{key} = {value!r}")
    if env:
        lines += [
            "",
            f"# {env}=1 in the environment turns every alias into DummyCache (nothing is cached).",
            f"if os.environ.get({env!r}, '').lower() not in ('', '0', 'false', 'no'):",
            "    CACHES = {",
            "        alias: {'BACKEND': 'django.core.cache.backends.dummy.DummyCache'} for alias in CACHES",
            "    }",
        ]
        if plan.get("session"):
            lines += [
                "    # Sessions in a DummyCache would be lost at once: they go to the database meanwhile.",
                "    SESSION_ENGINE = 'django.contrib.sessions.backends.db'",
            ]
    return "\n".join(lines) + "\n"


def django_cache_pins(requirements: str, names: list[str]) -> list[str]:
    """The pinned lines (name==version) of requirements.txt for the named packages."""
    pins = {}
    for raw in requirements.splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name = line.split("==", 1)[0].strip()
            pins[name.lower().replace("_", "-")] = line
    missing = [n for n in names if n.lower().replace("_", "-") not in pins]
    if missing:
        raise ValueError(f"requirements.txt has no pin for {', '.join(missing)}")
    return [pins[n.lower().replace("_", "-")] for n in names]


def django_cache_literal(value: Any) -> str:
    """A value as a Python literal (for the probe project's DATABASES and routers)."""
    return _py(value)


def django_cache_json_or_empty(text: str) -> list[dict[str, Any]]:
    """The round trip's JSON output, or [] when it printed none (it crashed before)."""
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def django_cache_roundtrip_line(result: Mapping[str, Any]) -> str:
    """One alias's round trip in one line."""
    backend = str(result.get("backend", "")).rsplit(".", 1)[-1]
    if result.get("ok"):
        return f"{result['alias']} ({backend}): ok, {len(result.get('ops', []))} ops in {result.get('ms')} ms"
    return f"alias {result['alias']!r} ({backend}) failed at {result.get('failed_op')}: {result.get('error')}"

# SPDX-License-Identifier: Apache-2.0
"""The one model of the cache tier that roles, filters and the Django settings planner share.

An instance of Redis or memcached, the address its peers and its clients reach it at, the
ports it serves plain and over TLS, and what a client of it (the Django settings) needs to
know: each is computed here once. The server roles' filters build their effective instances
with it; roles/django_cache reads the server hosts' variables through it, so the settings
follow the same defaults the servers were deployed with (tests/test_model.py checks the
roles' defaults against the constants below).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# roles/redis_server: what each instance purpose means when the instance does not say otherwise.
REDIS_PURPOSES: dict[str, dict[str, str]] = {
    "cache": {"maxmemory_policy": "allkeys-lru", "persistence": "none"},
    "sessions": {"maxmemory_policy": "volatile-lru", "persistence": "aof"},
    "temp": {"maxmemory_policy": "volatile-ttl", "persistence": "none"},
    "store": {"maxmemory_policy": "noeviction", "persistence": "rdb+aof"},
}
# roles/redis_server's redis_server_instances default (defaults/main.yml).
REDIS_DEFAULT_INSTANCES: list[dict[str, Any]] = [{"name": "cache", "port": 6379, "purpose": "cache"}]
# roles/redis_server's redis_server_databases default.
REDIS_DATABASES = 16
# roles/redis_sentinel's redis_sentinel_port default.
SENTINEL_PORT = 26379
# roles/memcached's memcached_instances default.
MEMCACHED_DEFAULT_INSTANCES: list[dict[str, Any]] = [{"name": "main", "port": 11211}]


# ----------------------------------------------------------------------------------------------
# Numbers of the inventory
# ----------------------------------------------------------------------------------------------
def integer_problem(value: Any, low: int, high: int) -> str | None:
    """An int, or digits (as `-e name=value` passes it), between low and high; else what is wrong."""
    digits = isinstance(value, str) and value.strip().isdigit()
    if isinstance(value, bool) or not (isinstance(value, int) or digits):
        return f"{value!r} is not an integer"
    if not low <= int(value) <= high:
        return f"{value} is not between {low} and {high}"
    return None


def number_problem(value: Any, integer: bool, low: float, high: float) -> str | None:
    """A number of the type asked (no digits in strings) between low and high; else what is wrong."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        return f"{value!r} is not {'an integer' if integer else 'a number'}"
    if not low <= value <= high:
        return f"{value!r} is not between {low} and {high}"
    return None


# ----------------------------------------------------------------------------------------------
# Addresses and ports
# ----------------------------------------------------------------------------------------------
# A password the servers' files, their command lines and the clients' URLs all carry as it
# is: 16 to 128 printable ASCII characters (ElastiCache's rule for its auth token), none of
# those that need quoting or escaping there (space, quotes, backslash, slash, @, #, %).
PASSWORD_MIN, PASSWORD_MAX = 16, 128
PASSWORD_FORBIDDEN = frozenset(" \"'\\/@#%")


def unique_name_problem(
    where: str, name: Any, pattern: re.Pattern[str], seen: set[str], *, kind: str, again: str
) -> str | None:
    """`<where>.name` that does not match `pattern` (not a valid `kind`), or that is in `seen`
    (`again` says how); otherwise it joins `seen`."""
    if not isinstance(name, str) or not pattern.match(name):
        return f"{where}.name: {name!r} is not a valid {kind}"
    if name in seen:
        return f"{where}.name: {name!r} {again}"
    seen.add(name)
    return None


def password_problem(variable: str, secret: Any) -> str | None:
    """What is wrong with a password (never the password itself), or None; `variable` names it."""
    text = "" if secret is None else str(secret)
    if not PASSWORD_MIN <= len(text) <= PASSWORD_MAX:
        return f"{variable}: {len(text)} characters; a password has {PASSWORD_MIN} to {PASSWORD_MAX}"
    odd = sorted({c for c in text if not 0x21 <= ord(c) <= 0x7E or c in PASSWORD_FORBIDDEN})
    if odd:
        shown = ", ".join(
            "space" if c == " " else repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in odd
        )
        return (
            f"{variable}: has characters the servers' files or the clients' URLs cannot carry as they are "
            f"({shown}); use printable ASCII without space, quotes, backslash, /, @, # and %"
        )
    return None


def client_address(hostvars: Mapping[str, Any], host: str, var: str) -> str:
    """The address clients use: the role's variable, else ansible_host, else the inventory name.

    Not the facts: the settings must not change with whether facts were gathered, and the
    servers' certificates hold their inventory names.
    """
    return str(hostvars.get(var) or hostvars.get("ansible_host") or host)


def group_addresses(names: list[str], groups: Mapping[str, Any], hostvars: Mapping[str, Any]) -> list[str]:
    """The addresses of the hosts of these inventory groups, as a firewall sees them: each host's
    ansible_host, else its inventory name. A host in two groups counts once; a group the
    inventory does not have is skipped."""
    hosts: list[str] = []
    for name in names or []:
        for host in groups.get(name) or []:
            if host not in hosts:
                hosts.append(host)
    return [str((hostvars.get(host) or {}).get("ansible_host") or host) for host in hosts]


def peer_address(hostvars: Mapping[str, Any], host: str) -> str:
    """The address other servers (replicas, Sentinels) reach a Redis host at: its
    redis_server_address, else the address of its default route (as Redis announces itself),
    else the inventory name."""
    facts = hostvars.get("ansible_facts") or {}
    default = (facts.get("default_ipv4") or {}).get("address")
    return str(hostvars.get("redis_server_address") or default or host)


def redis_ports(port: Any, tls_port: Any, tls: bool, keep_plain: bool) -> tuple[Any, Any]:
    """The (plain, TLS) ports an instance serves; 0 is off.

    Without TLS the instance's port is plain. With TLS only, its port is the TLS port and the
    plain one is off. With TLS and the plain port kept, TLS is on its tls_port. The values are
    passed through as given (the input checks run on the result).
    """
    if not tls:
        return port, 0
    if not keep_plain:
        return 0, port
    return port, tls_port or 0


def redis_primaries(hosts: list[str], hostvars: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What a replica needs to know of each primary host: the address it reaches it at (its
    peer address) and the port and tls_port of each of its instances, by name."""
    primaries = {}
    for host in hosts:
        hv = hostvars.get(host) or {}
        instances = hv.get("redis_server_instances") or []
        primaries[host] = {
            "address": peer_address(hv, host),
            "ports": {i["name"]: i.get("port") or 0 for i in instances},
            "tls_ports": {i["name"]: i.get("tls_port") or 0 for i in instances},
        }
    return primaries


def redis_instance_of(hostvars: Mapping[str, Any], host: str, name: str) -> dict[str, Any] | None:
    """The inventory entry of a host's Redis instance, by name (None when there is none)."""
    for candidate in (hostvars.get(host) or {}).get("redis_server_instances") or []:
        if candidate.get("name") == name:
            return dict(candidate)
    return None


# ----------------------------------------------------------------------------------------------
# What a client needs to know of a server host
# ----------------------------------------------------------------------------------------------
def redis_client_host(host: str, hv: Mapping[str, Any]) -> dict[str, Any]:
    """A Redis host as its clients see it: address, TLS, instances with their ports, ACL users,
    and the Sentinel it runs (if any)."""
    tls = bool(hv.get("redis_server_tls", False))
    keep_plain = bool(hv.get("redis_server_tls_keep_plain_port", False))
    instances = []
    for inst in hv.get("redis_server_instances") or REDIS_DEFAULT_INSTANCES:
        purpose = inst.get("purpose") or "cache"
        plain, secure = redis_ports(int(inst["port"]), int(inst.get("tls_port") or 0), tls, keep_plain)
        instances.append(
            {
                "name": inst["name"],
                "port": plain or None,
                "tls_port": secure or None,
                "purpose": purpose,
                "persistence": inst.get("persistence")
                or REDIS_PURPOSES.get(purpose, REDIS_PURPOSES["cache"])["persistence"],
                "databases": int(inst.get("databases") or hv.get("redis_server_databases", REDIS_DATABASES)),
                "cluster": bool(inst.get("cluster_enabled", False)),
                "replicaof": inst.get("replicaof") or None,
            }
        )
    return {
        "host": host,
        "address": client_address(hv, host, "redis_server_address"),
        "tls": tls,
        "tls_auth_clients": str(hv.get("redis_server_tls_auth_clients", "optional")),
        "ca_file": str(hv.get("redis_server_tls_ca_certificate") or ""),
        "instances": instances,
        "users": [
            {
                "name": u["name"],
                "password": u["password"],
                "keys": list(u.get("keys") or []),
                "instances": list(u.get("instances") or []),
            }
            for u in hv.get("redis_server_users") or []
        ],
        "sentinel": {
            "address": client_address(hv, host, "redis_sentinel_announce_address"),
            "port": int(hv.get("redis_sentinel_port", SENTINEL_PORT)),
            "password": str(hv.get("redis_sentinel_password") or ""),
            "tls": bool(hv.get("redis_sentinel_tls", tls)),
            "tls_auth_clients": str(
                hv.get("redis_sentinel_tls_auth_clients", hv.get("redis_server_tls_auth_clients", "optional"))
            ),
            "monitors": [
                {"name": m["name"], "host": m["host"], "instance": m.get("instance") or m["name"]}
                for m in hv.get("redis_sentinel_monitors") or []
            ],
        },
    }


def memcached_client_host(host: str, hv: Mapping[str, Any]) -> dict[str, Any]:
    """A memcached host as its clients see it: address, CA, SASL users, instances with TLS/SASL."""
    tls, sasl = bool(hv.get("memcached_tls", False)), bool(hv.get("memcached_sasl", False))
    return {
        "host": host,
        "address": client_address(hv, host, "memcached_address"),
        "ca_file": str(hv.get("memcached_tls_ca_certificate") or ""),
        "verify_clients": bool(hv.get("memcached_tls_verify_clients", False)),
        "users": [
            {"name": u["name"], "password": u["password"]} for u in hv.get("memcached_sasl_users") or []
        ],
        "instances": [
            {
                "name": i["name"],
                "port": int(i["port"]),
                "tls": bool(i["tls"]) if i.get("tls") is not None else tls,
                "sasl": bool(i["sasl"]) if i.get("sasl") is not None else sasl,
            }
            for i in hv.get("memcached_instances") or MEMCACHED_DEFAULT_INSTANCES
        ],
    }


# ----------------------------------------------------------------------------------------------
# Servers: Redis and Valkey, and which data each can load
# ----------------------------------------------------------------------------------------------
# roles/redis_server's redis_server_flavor choices: the server a host runs its instances with.
REDIS_FLAVORS = ("redis", "valkey")


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for part in str(version).split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def rdb_format(flavor: str, version: str) -> int:
    """The RDB format a server writes (its snapshots and a full sync's payload).

    Redis 7.0 writes 10, 7.2 writes 11, 7.4 and 8.x write 12. Valkey, forked from Redis 7.2,
    writes 11 up to 8.x and 80 from 9.0 (it left the numbers Redis goes on using)."""
    key = _version_key(version)
    if flavor == "valkey":
        return 80 if key >= (9,) else 11
    if key >= (7, 4):
        return 12
    if key >= (7, 2):
        return 11
    return 10 if key >= (7,) else 9


def rdb_readable(flavor: str, version: str, rdb: int) -> bool:
    """Whether a server loads data in format `rdb`: its own and every older Redis format.
    Valkey does not read Redis 7.4+'s format 12 (a Valkey 8.1 replica of a Redis 8.0 primary
    fails every full sync with "Can't handle RDB format version 12")."""
    own = rdb_format(flavor, version)
    if flavor == "valkey":
        return rdb <= 11 or rdb == own
    return rdb <= own


def replication_problem(primary: Mapping[str, str], replica: Mapping[str, str]) -> str | None:
    """Why a replica (flavor, version) cannot follow a primary (flavor, version); None if it can.
    A replica's first sync, and any sync after a broken link, loads the primary's RDB."""
    rdb = rdb_format(primary["flavor"], primary["version"])
    if rdb_readable(replica["flavor"], replica["version"], rdb):
        return None
    return (
        f"{replica['flavor']} {replica['version']} cannot load the data of {primary['flavor']} "
        f"{primary['version']} (RDB format {rdb})"
    )


def server_label(installed: Mapping[str, str]) -> str:
    """A host's server as "<flavor> <major>.<minor>" (roles/redis_server's redis_server_installed
    fact), or "unknown" before it is installed."""
    if not installed or not installed.get("version"):
        return "unknown"
    return f"{installed.get('flavor', 'redis')} {'.'.join(str(installed['version']).split('.')[:2])}"

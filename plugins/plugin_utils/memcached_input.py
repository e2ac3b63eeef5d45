# SPDX-License-Identifier: Apache-2.0
"""The input of roles/memcached: each instance with its defaults filled in, and what is
wrong with the input (each problem naming its variable).

Kept in Python (not Jinja) so the rules are typed, readable and tested by pytest
(tests/test_memcached_filters.py).
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.model import integer_problem

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SIZE_RE = re.compile(r"^([0-9]+)([kKmM]?)$")
SASL_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEBIAN_DEFAULT_PORT = 11211
# With a memory file (-e) memcached preallocates a 1 MiB page for each slab class (about 40
# with the default chunk sizes) and refuses to start with less memory than that.
WARM_MIN_MB = 48
# memcached 1.6 takes an item size (-I) that is a whole number of its 512 KiB slab chunks,
# up to 1 GiB (and half of -m).
SLAB_CHUNK = 512 * 1024
ITEM_MAX = 1024 * 1024 * 1024

# The numbers of the role, as (lowest, highest): threads beyond 64 memcached warns against;
# connections up to the unit's LimitNOFILE; memory up to the host's RAM (checked with the sum).
NUMBERS = {
    "memory_mb": (1, 2**31 - 1),
    "threads": (1, 64),
    "max_connections": (1, 65536),
}
# Keys an instance may set, and the role variable that gives each one's default.
INSTANCE_DEFAULTS = {
    "max_connections": "memcached_max_connections",
    "threads": "memcached_threads",
    "max_item_size": "memcached_max_item_size",
    "listen": "memcached_listen",
    "tls": "memcached_tls",
    "sasl": "memcached_sasl",
}


def size_to_bytes(size: str) -> int | None:
    """Parse memcached's -I syntax ('1m', '512k', '2097152'); None when malformed."""
    match = SIZE_RE.match(str(size))
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]


def memcached_effective(
    instances: list[dict[str, Any]], settings: dict[str, Any], memtotal_mb: int
) -> list[dict[str, Any]]:
    """Fill every instance's unset keys from the role's defaults.

    memory_mb of the instances that do not set it is memcached_memory_percent of RAM,
    split evenly between them (at least 16 MiB each).
    """
    unsized = [i for i in instances if i.get("memory_mb") is None]
    budget = int(memtotal_mb) * int(settings["memcached_memory_percent"]) // 100
    share = max(16, budget // len(unsized)) if unsized else 0
    result = []
    for instance in instances:
        effective = {key: settings[var] for key, var in INSTANCE_DEFAULTS.items()}
        effective.update({k: v for k, v in instance.items() if v is not None})
        effective.setdefault("memory_mb", share)
        effective.setdefault("extra_args", [])
        effective["max_connections"] = int(effective["max_connections"])
        effective["threads"] = int(effective["threads"])
        effective["memory_mb"] = int(effective["memory_mb"])
        effective["tls"] = bool(effective["tls"])
        effective["sasl"] = bool(effective["sasl"])
        effective.setdefault(
            "warm_restart", bool(settings["memcached_warm_restart"]) and effective["memory_mb"] >= WARM_MIN_MB
        )
        effective["warm_restart"] = bool(effective["warm_restart"])
        result.append(effective)
    return result


def _identity_problems(
    where: str, inst: dict[str, Any], seen: dict[str, dict[Any, str]], settings: dict[str, Any]
) -> list[str]:
    """Name and port: valid, and not used twice on the host."""
    problems = []
    name, port = inst.get("name"), inst.get("port")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(
            f"{where}.name: {name!r} is not a valid instance name "
            "(1-32 of a-z, 0-9, '-', '_', starting with a letter or digit)"
        )
    elif name in seen["name"]:
        problems.append(f"{where}.name: {name!r} is used twice (also {seen['name'][name]})")
    else:
        seen["name"][name] = where
    if not isinstance(port, int) or not 1 <= port <= 65535:
        problems.append(f"{where}.port: {port!r} is not a TCP port (1-65535)")
    elif port in seen["port"]:
        problems.append(f"{where}.port: {port} is already used by {seen['port'][port]}")
    else:
        seen["port"][port] = where
        if port == DEBIAN_DEFAULT_PORT and not settings["memcached_disable_default_instance"]:
            problems.append(
                f"{where}.port: {port} is the port of Debian's own memcached.service, which "
                "memcached_disable_default_instance: false keeps running"
            )
    return problems


def fds_needed(threads: int) -> int:
    """The least max_connections memcached starts with (-c is also its open-file limit).

    Each worker thread takes about 5 descriptors (event base, notification pipes); measured on
    memcached 1.6: 1 thread starts from -c 16, 16 from 88, 64 from 328. A margin of 8.
    """
    return 5 * int(threads) + 16


def _sizing_problems(where: str, inst: dict[str, Any]) -> list[str]:
    """Memory, threads, connections, item size and listen addresses of one instance."""
    problems = []
    least = fds_needed(inst["threads"])
    if inst["max_connections"] < least:
        problems.append(
            f"{where}.max_connections: {inst['max_connections']} is too few for {inst['threads']} threads "
            f"(memcached lowers its open-file limit to it and needs about 5 per thread): at least {least}"
        )
    item = size_to_bytes(inst["max_item_size"])
    if item is None:
        problems.append(f"{where}.max_item_size: {inst['max_item_size']!r} is not a size like 1m or 512k")
    elif item < SLAB_CHUNK or item % SLAB_CHUNK or item > ITEM_MAX:
        problems.append(
            f"{where}.max_item_size: {inst['max_item_size']!r} is not a multiple of 512k from 512k to "
            "1024m (memcached's slab chunk is 512k: it refuses a smaller or uneven item size)"
        )
    elif item > inst["memory_mb"] * 1024 * 1024 // 2:
        problems.append(
            f"{where}.max_item_size: {inst['max_item_size']!r} is over half of memory_mb "
            f"({inst['memory_mb']} MiB); memcached refuses to start"
        )
    if not inst["listen"]:
        problems.append(f"{where}.listen: no address to listen on")
    if inst["warm_restart"] and inst["memory_mb"] < WARM_MIN_MB:
        problems.append(
            f"{where}.warm_restart: needs memory_mb of at least {WARM_MIN_MB} (memcached preallocates a page "
            f"per slab class for its memory file), not {inst['memory_mb']}"
        )
    return problems


def _tls_problems(settings: dict[str, Any]) -> list[str]:
    problems = [
        f"{var}: required because TLS is on (memcached_tls or an instance's tls)"
        for var in ("memcached_tls_certificate", "memcached_tls_private_key")
        if not settings[var]
    ]
    if settings["memcached_tls_verify_clients"] and not settings["memcached_tls_ca_certificate"]:
        problems.append("memcached_tls_ca_certificate: required because memcached_tls_verify_clients is true")
    return problems


def _sasl_problems(settings: dict[str, Any]) -> list[str]:
    users = settings["memcached_sasl_users"] or []
    problems = [] if users else ["memcached_sasl_users: SASL is on but no user is defined"]
    for index, user in enumerate(users):
        if not SASL_NAME_RE.match(str(user.get("name", ""))):
            problems.append(
                f"memcached_sasl_users[{index}].name: {user.get('name')!r} is not a valid "
                "user name (letters, digits, '.', '_', '-')"
            )
        if not user.get("password"):
            problems.append(f"memcached_sasl_users[{index}].password: empty")
    return problems


def _number_problems(instances: list[dict[str, Any]], settings: dict[str, Any]) -> list[str]:
    """Every number of the input is an integer in its bounds (before any is computed with)."""
    checks = [("memcached_memory_percent", settings["memcached_memory_percent"], (1, 90))]
    checks += [
        (f"memcached_{key}", settings[f"memcached_{key}"], NUMBERS[key])
        for key in ("threads", "max_connections")
    ]
    for index, instance in enumerate(instances):
        checks += [
            (f"memcached_instances[{index}].{key}", instance[key], bounds)
            for key, bounds in NUMBERS.items()
            if instance.get(key) is not None
        ]
    return [
        f"{where}: {problem}"
        for where, value, (low, high) in checks
        if (problem := integer_problem(value, low, high))
    ]


def memcached_problems(
    instances: list[dict[str, Any]], settings: dict[str, Any], memtotal_mb: int
) -> list[str]:
    """Every problem of the role's input, each naming the variable; [] when all is well."""
    if not instances:
        return ["memcached_instances: the list is empty"]
    if numbers := _number_problems(instances, settings):
        return numbers
    effective = memcached_effective(instances, settings, memtotal_mb)
    seen: dict[str, dict[Any, str]] = {"name": {}, "port": {}}
    problems: list[str] = []
    for index, inst in enumerate(effective):
        where = f"memcached_instances[{index}]"
        problems += _identity_problems(where, inst, seen, settings) + _sizing_problems(where, inst)
    total = sum(i["memory_mb"] for i in effective)
    if total > int(memtotal_mb):
        problems.append(
            f"memcached_instances: memory_mb adds up to {total} MiB, more than this host's "
            f"{memtotal_mb} MiB of RAM"
        )
    if any(i["tls"] for i in effective):
        problems += _tls_problems(settings)
    if any(i["sasl"] for i in effective):
        problems += _sasl_problems(settings)
    return problems

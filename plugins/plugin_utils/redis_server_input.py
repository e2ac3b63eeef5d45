# SPDX-License-Identifier: Apache-2.0
"""The input of roles/redis_server: each instance with its defaults filled in, and what is
wrong with the input (each problem naming its variable), passwords against what the
instances hold included.

Tested by tests/test_redis_server_filters.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.model import (
    REDIS_PURPOSES,
    integer_problem,
    password_problem,
    redis_ports,
    unique_name_problem,
)
from ansible_collections.cachewright.cache.plugins.plugin_utils.redis_acl import (
    acl_held,
    hashed,
)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
USER_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
POLICIES = (
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
)  # fmt: skip
PERSISTENCE = ("none", "rdb", "aof", "rdb+aof")
RULE_RE = re.compile(r"^([+-]@?[a-z0-9_|-]+|allcommands|nocommands)$")
# redis.conf directives extra_config may not set, with why: the role sets them from its own
# variables (a second line would silently win over them), or the role's safety rests on them.
MANAGED: dict[str, tuple[str, ...]] = {
    "the instance's port, tls_port and bind": (
        "port", "tls-port", "bind", "unixsocket", "unixsocketperm", "protected-mode",
    ),
    "redis_server_tls and its certificate files": (
        "tls-cert-file", "tls-key-file", "tls-ca-cert-file", "tls-ca-cert-dir", "tls-auth-clients",
        "tls-replication", "tls-cluster",
    ),
    "redis_server_users and the role's ACL file (the role manages Redis as its admin user)": (
        "requirepass", "aclfile", "user", "masterauth", "masteruser", "rename-command",
    ),
    "the instance's replicaof (and Sentinel's rewrites); replicas stay read-only": (
        "replicaof", "slaveof", "replica-read-only", "slave-read-only",
    ),
    "the instance's persistence, and the data directory the unit may write": (
        "dir", "dbfilename", "appendonly", "appendfilename", "appenddirname", "save",
    ),
    "the instance's maxmemory_mb, maxmemory_policy and databases": (
        "maxmemory", "maxmemory-policy", "databases",
    ),
    "the instance's cluster_enabled and redis_server_cluster_node_timeout": (
        "cluster-enabled", "cluster-config-file", "cluster-port", "cluster-node-timeout",
        "cluster-announce-ip", "cluster-announce-port", "cluster-announce-tls-port",
    ),
    "the systemd unit (no other file is read)": (
        "daemonize", "supervised", "pidfile", "logfile", "include",
    ),
    "closed: they run code or reopen what ACLs close": (
        "loadmodule", "enable-debug-command", "enable-module-command", "enable-protected-configs",
    ),
}  # fmt: skip
OWNER = {name: why for why, names in MANAGED.items() for name in names}
DIRECTIVE_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")


def redis_server_effective(
    instances: list[dict[str, Any]], settings: dict[str, Any], memtotal_mb: int
) -> list[dict[str, Any]]:
    """Every instance with all its keys: purpose defaults, memory share, TLS ports."""
    unsized = [i for i in instances if i.get("maxmemory_mb") is None]
    budget = int(memtotal_mb) * int(settings["redis_server_memory_percent"]) // 100
    share = max(32, budget // len(unsized)) if unsized else 0
    result = []
    for instance in instances:
        purpose = instance.get("purpose") or "cache"
        eff: dict[str, Any] = {
            "purpose": purpose,
            "databases": settings["redis_server_databases"],
            "replicaof": None,
            "cluster_enabled": False,
            "tls_port": None,
            "extra_config": {},
            **REDIS_PURPOSES.get(purpose, REDIS_PURPOSES["cache"]),
        }
        eff.update({k: v for k, v in instance.items() if v is not None})
        eff.setdefault("maxmemory_mb", share)
        eff["maxmemory_mb"] = int(eff["maxmemory_mb"])
        eff["extra_config"] = {**settings["redis_server_extra_config"], **eff["extra_config"]}
        eff["tls"] = bool(settings["redis_server_tls"])
        eff["redis_port"], eff["redis_tls_port"] = redis_ports(
            eff["port"], eff["tls_port"], eff["tls"], bool(settings["redis_server_tls_keep_plain_port"])
        )
        result.append(eff)
    return result


def _identity_problems(where: str, inst: dict[str, Any], seen: dict[str, dict[Any, str]]) -> list[str]:
    problems = []
    name = inst.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"{where}.name: {name!r} is not a valid instance name (a-z, 0-9, '-', '_')")
    elif name in seen["name"]:
        problems.append(f"{where}.name: {name!r} is used twice (also {seen['name'][name]})")
    else:
        seen["name"][name] = where
    ports = [("port", inst.get("port"))] + ([("tls_port", inst["tls_port"])] if inst.get("tls_port") else [])
    for key, port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(f"{where}.{key}: {port!r} is not a TCP port (1-65535)")
        elif port in seen["port"]:
            problems.append(f"{where}.{key}: {port} is already used by {seen['port'][port]}")
        else:
            seen["port"][port] = f"{where}.{key}"
            if inst.get("cluster_enabled"):
                # The cluster bus listens on port + 10000.
                seen["port"][port + 10000] = f"{where}.{key} + 10000 (cluster bus)"
    return problems


def _setting_problems(where: str, inst: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    problems = []
    if inst["purpose"] not in REDIS_PURPOSES:
        problems.append(f"{where}.purpose: {inst['purpose']!r} is not one of {', '.join(REDIS_PURPOSES)}")
    if inst["maxmemory_policy"] not in POLICIES:
        problems.append(
            f"{where}.maxmemory_policy: {inst['maxmemory_policy']!r} is not an eviction policy "
            f"({', '.join(POLICIES)})"
        )
    if inst["persistence"] not in PERSISTENCE:
        problems.append(
            f"{where}.persistence: {inst['persistence']!r} is not one of {', '.join(PERSISTENCE)}"
        )
    if settings["redis_server_tls"] and settings["redis_server_tls_keep_plain_port"] and not inst["tls_port"]:
        problems.append(
            f"{where}.tls_port: required when redis_server_tls_keep_plain_port keeps the plain port"
        )
    return problems


def _replicaof_problem(
    where: str, inst: dict[str, Any], host: str, inventory: dict[str, list[str]], settings: dict[str, Any]
) -> str | None:
    """replicaof names an inventory host and one of its instances, not itself."""
    target = inst.get("replicaof")
    problem = None
    if not target:
        pass
    elif not isinstance(target, dict) or not target.get("host") or not target.get("instance"):
        problem = f"{where}.replicaof: must be {{host: <inventory host>, instance: <instance name>}}"
    elif target["host"] == host and target["instance"] == inst["name"]:
        problem = f"{where}.replicaof: the instance {inst['name']!r} cannot replicate itself"
    elif target["host"] not in inventory:
        problem = f"{where}.replicaof: host {target['host']!r} is not in the inventory"
    elif target["instance"] not in inventory[target["host"]]:
        problem = (
            f"{where}.replicaof: host {target['host']!r} has no instance {target['instance']!r} "
            f"(it has: {', '.join(inventory[target['host']]) or 'none'})"
        )
    elif not settings["redis_server_replication_password"]:
        problem = f"redis_server_replication_password: required because {where} is a replica"
    return problem


def _app_user_problems(index: int, user: dict[str, Any], seen: set[str], names: list[str]) -> list[str]:
    where = f"redis_server_users[{index}]"
    problems = []
    name = user.get("name")
    again = "is defined twice or is a reserved user"
    if problem := unique_name_problem(
        where, name, USER_RE, seen, kind="ACL user name (no spaces)", again=again
    ):
        problems.append(problem)
    secret = user.get("password")
    if not secret:
        problems.append(f"{where}.password: required for user {name!r}")
    elif problem := password_problem(f"{where}.password", secret):
        problems.append(f"{problem} (user {name!r})")
    problems += [
        f"{where}.instances: {instance!r} is not an instance of this host"
        for instance in user.get("instances") or []
        if instance not in names
    ]
    if not user.get("keys"):
        problems.append(f"{where}.keys: give the key patterns of user {name!r}, e.g. ['myapp:*']")
    # Each pattern and rule is one word of the user's aclfile line: Redis refuses the whole file
    # (and does not start) on a stray space.
    for key in ("keys", "channels"):
        problems += [
            f"{where}.{key}: {pattern!r} is not one pattern (no spaces, not empty)"
            for pattern in user.get(key) or []
            if not isinstance(pattern, str) or not pattern or any(c.isspace() for c in pattern)
        ]
    rules = user.get("commands")
    if rules is not None and not (isinstance(rules, str) and all(RULE_RE.match(r) for r in rules.split())):
        problems.append(
            f"{where}.commands: {rules!r} is not a list of ACL command rules like '+@read -flushall'"
        )
    return problems


def _user_problems(settings: dict[str, Any], names: list[str]) -> list[str]:
    problems = [
        f"{var}_user: {settings[var + '_user']!r} is not a valid ACL user name"
        for var in ("redis_server_admin", "redis_server_replication")
        if not USER_RE.match(str(settings[var + "_user"]))
    ]
    if not settings["redis_server_admin_password"]:
        problems.append("redis_server_admin_password: required (the role manages Redis through this user)")
    problems += [
        problem
        for var in (
            "redis_server_admin_password",
            "redis_server_replication_password",
            "redis_server_sentinel_password",
        )
        if settings.get(var) and (problem := password_problem(var, settings[var]))
    ]
    seen = {
        settings["redis_server_admin_user"],
        settings["redis_server_replication_user"],
        settings.get("redis_server_sentinel_user", "cw-sentinel"),
        "default",
    }
    for index, user in enumerate(settings["redis_server_users"] or []):
        problems += _app_user_problems(index, user, seen, names)
    return problems


def extra_config_problems(where: str, extra: Any) -> list[str]:
    """Directives of an extra_config the role owns, and keys or values that break the file."""
    if not isinstance(extra, Mapping):
        return [f"{where}: {extra!r} is not a mapping of redis.conf settings"]
    problems = []
    for key, value in extra.items():
        name = str(key).lower()
        if not DIRECTIVE_RE.match(name):
            problems.append(f"{where}: {key!r} is not a redis.conf directive name")
        elif name in OWNER:
            problems.append(f"{where}.{key}: set by the role ({OWNER[name]}), not through extra_config")
        elif isinstance(value, Mapping | list) or any(c in str(value) for c in "\n\r\0"):
            problems.append(f"{where}.{key}: {value!r} is not a single-line value")
    return problems


def _number_problems(instances: list[dict[str, Any]], settings: dict[str, Any]) -> list[str]:
    """Every number of the input is an integer in its bounds (before any is computed with)."""
    checks = [
        ("redis_server_memory_percent", settings["redis_server_memory_percent"], (1, 90)),
        ("redis_server_databases", settings["redis_server_databases"], (1, 10000)),
    ]
    for index, instance in enumerate(instances):
        checks += [
            (f"redis_server_instances[{index}].{key}", instance[key], bounds)
            for key, bounds in (("maxmemory_mb", (1, 2**31 - 1)), ("databases", (1, 10000)))
            if instance.get(key) is not None
        ]
    return [
        f"{where}: {problem}"
        for where, value, bounds in checks
        if (problem := integer_problem(value, *bounds))
    ]


def redis_server_problems(
    instances: list[dict[str, Any]],
    settings: dict[str, Any],
    memtotal_mb: int,
    host: str,
    inventory: dict[str, list[str]],
    *,
    current: Mapping[str, str | None] | None = None,
    rotation: str = "",
) -> list[str]:
    """Every problem of the role's input, each naming the variable; [] when all is well.

    inventory maps each inventory host to the names of its redis_server_instances;
    `current` and `rotation`: the passwords the instances hold now and the phase of a
    rotation (redis_server_password_problems).
    """
    if not instances:
        return ["redis_server_instances: the list is empty"]
    if numbers := _number_problems(instances, settings):
        return numbers
    effective = redis_server_effective(instances, settings, memtotal_mb)
    seen: dict[str, dict[Any, str]] = {"name": {}, "port": {}}
    problems: list[str] = []
    problems += extra_config_problems("redis_server_extra_config", settings["redis_server_extra_config"])
    for index, inst in enumerate(effective):
        where = f"redis_server_instances[{index}]"
        problems += extra_config_problems(f"{where}.extra_config", instances[index].get("extra_config") or {})
        problems += _identity_problems(where, inst, seen)
        problems += _setting_problems(where, inst, settings)
        replica_problem = _replicaof_problem(where, inst, host, inventory, settings)
        problems += [replica_problem] if replica_problem else []
    total = sum(i["maxmemory_mb"] for i in effective)
    if total > int(memtotal_mb):
        problems.append(
            f"redis_server_instances: maxmemory_mb adds up to {total} MiB, more than this host's "
            f"{memtotal_mb} MiB of RAM"
        )
    if settings["redis_server_tls"]:
        problems += [
            f"{var}: required because redis_server_tls is true"
            for var in (
                "redis_server_tls_certificate",
                "redis_server_tls_private_key",
                "redis_server_tls_ca_certificate",
            )
            if not settings[var]
        ]
    problems += _user_problems(settings, [i.get("name") for i in instances])
    if not problems:
        problems += redis_server_password_problems(instances, settings, current or {}, rotation)
    return problems


ROTATION_PHASES = ("", "add", "finish")
ROTATE_PLAYBOOK = "playbooks/rotate_passwords.yml"


def _passwords(settings: dict[str, Any], instance_name: str) -> list[tuple[str, str, str]]:
    """(variable, user, password) of every user an instance's aclfile carries."""
    found = [
        (
            "redis_server_admin_password",
            settings["redis_server_admin_user"],
            settings["redis_server_admin_password"],
        )
    ]
    if settings["redis_server_replication_password"]:
        found.append(
            (
                "redis_server_replication_password",
                settings["redis_server_replication_user"],
                settings["redis_server_replication_password"],
            )
        )
    if settings.get("redis_server_sentinel_password"):
        found.append(
            (
                "redis_server_sentinel_password",
                settings["redis_server_sentinel_user"],
                settings["redis_server_sentinel_password"],
            )
        )
    for index, user in enumerate(settings["redis_server_users"] or []):
        if not user.get("instances") or instance_name in user["instances"]:
            found.append((f"redis_server_users[{index}].password", user["name"], user["password"]))
    return found


def redis_server_password_problems(
    instances: list[dict[str, Any]],
    settings: dict[str, Any],
    current: Mapping[str, str | None],
    rotation: str = "",
) -> list[str]:
    """Passwords of the input that differ from what the running instances hold, when this
    run may not change them; each names the variable.

    `current` maps instance names to the text of their aclfile now (None: no file yet).
    A plain run keeps every password the instances hold: a new password for an existing user
    would lock out every client still using the old one, so it is refused and left to
    playbooks/rotate_passwords.yml (`rotation`: "add" puts the new password beside the old
    one, "finish" removes the old). That playbook rotates the application users
    (redis_server_users); the admin, replication and Sentinel users' passwords, which the
    servers themselves use, are refused in every run.
    """
    if rotation not in ROTATION_PHASES:
        return [f"redis_server_password_rotation: {rotation!r} is not one of '', 'add', 'finish'"]
    problems = []
    for instance in instances:
        name = instance.get("name")
        held = acl_held(current.get(name))
        for variable, user, password in _passwords(settings, name):
            hashes = held.get(user)
            if not hashes or not isinstance(password, str) or hashed(password) in hashes:
                continue
            if variable.startswith("redis_server_users[") and rotation:
                continue
            how = (
                f"change it with {ROTATE_PLAYBOOK}, which puts it beside the old one, moves the app "
                "hosts to it and then removes the old one"
                if variable.startswith("redis_server_users[")
                else "the kit does not rotate the passwords the servers themselves use; set it back"
            )
            problems.append(
                f"{variable}: differs from the password user {user!r} of instance {name!r} holds now; {how}"
            )
    return problems

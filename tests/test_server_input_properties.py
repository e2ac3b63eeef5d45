# SPDX-License-Identifier: Apache-2.0
"""The server roles' input checks on generated input (hypothesis), against the real servers.

Whatever the inventory says, roles/memcached and roles/redis_server either refuse it - each
problem naming the variable - or give a command line / configuration file that the real
memcached / redis-server of this machine starts with and serves from (they run on
loopback, on a free port, as the test's own processes).
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import ROOT, load_plugin
from test_memcached_filters import SETTINGS as MC_BASE
from test_redis_server_filters import SETTINGS as RS_BASE

mc = load_plugin("plugins/plugin_utils/memcached_input.py")
mc_argv = load_plugin("plugins/plugin_utils/memcached_argv.py")

# The same examples on every run (CI must not turn red at random); CW_EXAMPLES looks further.
EXAMPLES = int(os.environ.get("CW_EXAMPLES", "200"))
RUN = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MEMTOTAL_MB = 2048
# Numbers as a typo may give them, among the usual ones (about one in ten is a typo).
typos = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 0),
    st.integers(2**31, 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1", "ten", ""]),
)


def number(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # About one number in ten is a typo.
    return st.integers(0, 9).flatmap(lambda n: typos if n == 0 else valid)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The role's units allow 65536 open files (LimitNOFILE); a test machine may allow fewer, and
# a process may not raise its hard limit without CAP_SYS_RESOURCE.
OPEN_FILES = min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])


@contextmanager
def serving(argv: list[str], hello: bytes, answer: bytes, port: int) -> Iterator[None]:
    """Start a server, wait until it answers `hello` on `port`, stop it afterwards."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 5
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise AssertionError(f"{argv[0]} refused to start: {output[-1500:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(hello)
                    assert conn.recv(200).startswith(answer)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield
    finally:
        process.kill()
        process.wait()


def refused(problems: list[str], prefix: str) -> bool:
    """Whether the role refused the input; then every problem names one of its variables."""
    event("refused" if problems else "started")
    assert all(p.startswith(prefix) for p in problems), problems
    return bool(problems)


def instances_of(instance: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(instance, min_size=1, max_size=2, unique_by=lambda i: i["name"])


# ----------------------------------------------------------------------------------------------
# memcached
# ----------------------------------------------------------------------------------------------
# The filter tests' settings, with the lab's loopback address and warm restart on.
MC_SETTINGS: dict[str, Any] = {**MC_BASE, "memcached_memory_percent": 25, "memcached_listen": ["127.0.0.1"]}
mc_instance = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["pool", "sessions", "pages", "Bad Name"]),
        "port": number(st.integers(1024, 65535)),
    },
    optional={
        "memory_mb": number(st.integers(1, 256)),
        "threads": number(st.integers(1, 64)),
        "max_connections": number(st.integers(1, 65536)),
        "max_item_size": st.one_of(
            *[st.sampled_from(["1m", "512k", "2m", "64k", "128m"])] * 4, st.text(max_size=4)
        ),
        "warm_restart": st.booleans(),
    },
)
mc_settings = st.fixed_dictionaries(
    {},
    optional={
        "memcached_memory_percent": number(st.integers(1, 90)),
        "memcached_threads": number(st.integers(1, 64)),
        "memcached_max_connections": number(st.integers(1, 65536)),
        "memcached_warm_restart": st.booleans(),
    },
)


@RUN
@given(instances=instances_of(mc_instance), changes=mc_settings)
def test_memcached_input_is_refused_by_name_or_starts(
    instances: list[dict[str, Any]], changes: dict[str, Any]
) -> None:
    role = {**MC_SETTINGS, **changes}
    if refused(mc.memcached_problems(instances, role, MEMTOTAL_MB), "memcached_"):
        return
    # The memory files on a tmpfs, as the role puts them (/var/lib/memcached/warm).
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as warm:
        os.chmod(warm, 0o777)
        for inst in mc.memcached_effective(instances, role, MEMTOTAL_MB):
            if inst["max_connections"] > OPEN_FILES:
                event("not started: max_connections over this machine's open-file limit")
                continue
            port = free_port()
            argv = mc_argv.memcached_argv({**inst, "port": port}, {}, warm)
            with serving(["memcached", "-u", "nobody", *argv], b"version\r\n", b"VERSION ", port):
                pass


# ----------------------------------------------------------------------------------------------
# redis-server
# ----------------------------------------------------------------------------------------------
rs = load_plugin("plugins/plugin_utils/redis_server_input.py")
acl = load_plugin("plugins/plugin_utils/redis_acl.py")
TEMPLATES = ROOT / "roles" / "redis_server" / "templates"
# The filter tests' settings, with replication on (its user in the ACL file too).
RS_SETTINGS: dict[str, Any] = {
    **RS_BASE,
    "redis_server_memory_percent": 25,
    "redis_server_replication_password": "test-only-replication",
}
# extra_config: tuning the role leaves to the user (with values redis-server takes: the
# values of extra_config are the user's, passed as given), directives the role owns, and typos.
extra_config = st.dictionaries(
    st.sampled_from(
        ["latency-monitor-threshold", "maxclients", "hz", "slowlog-max-len", "requirepass", "Save",
         "loadmodule", "max clients"]
    ),
    st.sampled_from(["100", "1000", "10"]),
    max_size=3,
)  # fmt: skip
rs_instance = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["cache", "sessions", "store", "Bad"]),
        "port": number(st.integers(1024, 65535)),
    },
    optional={
        "purpose": st.sampled_from(["cache", "sessions", "temp", "store", "misc"]),
        "maxmemory_mb": number(st.integers(1, 512)),
        "maxmemory_policy": st.sampled_from(["allkeys-lru", "volatile-ttl", "noeviction", "lru-please"]),
        "persistence": st.sampled_from(["none", "rdb", "aof", "rdb+aof", "sometimes"]),
        "databases": number(st.integers(1, 64)),
        "cluster_enabled": st.booleans(),
        "extra_config": extra_config,
    },
)
rs_user = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["app", "reports", "bad user", "default"]),
        "password": st.sampled_from(["test-only-pw", "", "has space", "test-only-other"]),
        "keys": st.sampled_from([["app:*"], ["reports:*", "~x:*"], [], ["a b"], ["%R~ro:*"]]),
    },
    optional={"commands": st.sampled_from(["+@all -@dangerous", "+get +set", "+@read"])},
)
rs_settings = st.fixed_dictionaries(
    {},
    optional={
        "redis_server_memory_percent": number(st.integers(1, 90)),
        "redis_server_databases": number(st.integers(1, 64)),
        "redis_server_extra_config": extra_config,
        "redis_server_users": st.lists(rs_user, max_size=2),
    },
)


def render(template: str, variables: dict[str, Any]) -> str:
    import jinja2  # noqa: PLC0415 - Ansible's templating engine, with its own filters here

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True)
    env.filters["cachewright.cache.redis_server_acl"] = acl.redis_server_acl
    return env.get_template(template).render(**variables)


def cluster_safe_port() -> int:
    """A free port whose cluster bus port (+10000) is a port too."""
    while (port := free_port()) > 55535:
        pass
    return port


@RUN
@given(instances=instances_of(rs_instance), changes=rs_settings)
def test_redis_input_is_refused_by_name_or_starts(
    instances: list[dict[str, Any]], changes: dict[str, Any]
) -> None:
    role = {**RS_SETTINGS, **changes}
    names = {"r1": [i["name"] for i in instances]}
    if refused(rs.redis_server_problems(instances, role, MEMTOTAL_MB, "r1", names), "redis_server_"):
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for inst in rs.redis_server_effective(instances, role, MEMTOTAL_MB):
            port = cluster_safe_port()
            (root / inst["name"]).mkdir()
            variables = {
                **role,
                "item": {**inst, "redis_port": port},
                "ansible_managed": "Managed by Ansible (test)",
                "redis_server_bind": ["127.0.0.1"],
                "redis_server_address": "127.0.0.1",
                "redis_server_cluster_node_timeout": 5000,
                "redis_server_tls_auth_clients": "optional",
                "__redis_server_socket": f"{root}/{{name}}.sock",
                "__redis_server_tls_dir": str(root),
                "__redis_server_data_dir": str(root),
                "__redis_server_conf_dir": str(root),
                "__redis_server_settings": role,
                "__redis_server_acl_current": {},  # a first run: no ACL file yet
                "redis_server_password_rotation": "",
                "__redis_server_unit": "redis-server@{name}.service",
                "__redis_server_main_config": f"{root}/main-{{name}}.conf",
                "__redis_server_flavor": {"pidfile": f"{root}/{{name}}.pid"},
            }
            (root / f"{inst['name']}.acl").write_text(render("instance.acl.j2", variables))
            conf = root / f"{inst['name']}.conf"
            conf.write_text(render("instance.conf.j2", variables))
            # Unauthenticated: the default user is off.
            with serving(["redis-server", str(conf)], b"PING\r\n", b"-NOAUTH", port):
                pass

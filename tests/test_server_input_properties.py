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
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import load_plugin

mc = load_plugin("roles/memcached/filter_plugins/memcached_instances.py")

# The same examples on every run (CI must not turn red at random); CW_EXAMPLES looks further.
EXAMPLES = int(os.environ.get("CW_EXAMPLES", "100"))
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


# ----------------------------------------------------------------------------------------------
# memcached
# ----------------------------------------------------------------------------------------------
MC_SETTINGS: dict[str, Any] = {
    "memcached_memory_percent": 25,
    "memcached_max_connections": 1024,
    "memcached_threads": 4,
    "memcached_max_item_size": "1m",
    "memcached_listen": ["127.0.0.1"],
    "memcached_tls": False,
    "memcached_sasl": False,
    "memcached_disable_default_instance": True,
    "memcached_tls_certificate": "",
    "memcached_tls_private_key": "",
    "memcached_tls_ca_certificate": "",
    "memcached_tls_verify_clients": False,
    "memcached_sasl_users": [],
    "memcached_warm_restart": True,
}
mc_instance = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["pool", "sessions", "pages", "Bad Name"]),
        "port": number(st.integers(1024, 65535)),
    },
    optional={
        "memory_mb": number(st.integers(1, 1024)),
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
@given(
    instances=st.lists(mc_instance, min_size=1, max_size=2, unique_by=lambda i: i["name"]),
    changes=mc_settings,
)
def test_memcached_input_is_refused_by_name_or_starts(
    instances: list[dict[str, Any]], changes: dict[str, Any]
) -> None:
    role = {**MC_SETTINGS, **changes}
    problems = mc.memcached_problems(instances, role, MEMTOTAL_MB)
    event("refused" if problems else "started")
    if problems:
        assert all(p.startswith("memcached_") for p in problems), problems
        return
    with tempfile.TemporaryDirectory() as warm:
        os.chmod(warm, 0o777)
        for inst in mc.memcached_effective(instances, role, MEMTOTAL_MB):
            if inst["max_connections"] > OPEN_FILES:
                event("not started: max_connections over this machine's open-file limit")
                continue
            port = free_port()
            argv = mc.memcached_argv({**inst, "port": port}, {}, warm)
            with serving(["memcached", "-u", "nobody", *argv], b"version\r\n", b"VERSION ", port):
                pass

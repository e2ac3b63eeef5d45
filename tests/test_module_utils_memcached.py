# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/cachewright_memcached.py: which option changes keep a warm restart,
and the admin commands against a live memcached (plain and TLS) on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_memcached import (
    Endpoint,
    options_from_file,
    warm_blockers,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import file_fingerprint

from redis_cluster_fixture import make_tls_files

BASE = ["-p", "11211", "-U", "0", "-l", "127.0.0.1", "-m", "128", "-c", "1024", "-t", "2", "-I", "1m"]
WARM = [*BASE, "-e", "/var/lib/memcached/warm/pool"]


def test_options_from_the_role_file() -> None:
    text = '# Ansible managed\nMEMCACHED_OPTIONS="-p 11211 -m 64 -e /var/lib/memcached/warm/pool"\n'
    assert options_from_file(text) == ["-p", "11211", "-m", "64", "-e", "/var/lib/memcached/warm/pool"]


@pytest.mark.parametrize(
    ("running", "wanted", "blocked_by"),
    [
        (WARM, WARM, None),
        ([*WARM[:-2], "-c", "2048", *WARM[-2:]], WARM, None),  # connections: kept
        (WARM, [x if x != "128" else "256" for x in WARM], "memory (-m) 128 -> 256"),
        (WARM, [x if x != "1m" else "2m" for x in WARM], "largest item (-I) 1m -> 2m"),
        (WARM, [*WARM, "-C"], "CAS off (-C) default -> True"),
        (WARM, [*WARM, "-o", "slab_chunk_max=256k"], "-o slab_chunk_max default -> 256k"),
        (BASE, WARM, "no memory file yet"),
        (WARM, BASE, "warm restart is off"),
    ],
)
def test_what_keeps_a_warm_restart(running: list[str], wanted: list[str], blocked_by: str | None) -> None:
    blockers = warm_blockers(running, wanted)
    if blocked_by is None:
        assert blockers == []
    else:
        assert any(blocked_by in b for b in blockers), blockers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def memcached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Endpoint, Endpoint, Path]]:
    tls = make_tls_files(tmp_path_factory.mktemp("tls"))
    plain_port, tls_port = free_port(), free_port()
    # memcached refuses to run as root unless told which user to be.
    binary = [shutil.which("memcached") or "memcached", *(["-u", "root"] if os.geteuid() == 0 else [])]
    processes = [
        subprocess.Popen([*binary, "-l", "127.0.0.1", "-p", str(plain_port), "-U", "0", "-m", "16"]),
        subprocess.Popen(
            [*binary, "-l", "127.0.0.1", "-p", str(tls_port), "-U", "0", "-m", "16", "-Z", "-o",
             f"ssl_chain_cert={tls}/node.crt,ssl_key={tls}/node.key,ssl_ca_cert={tls}/ca.crt"]
        ),
    ]  # fmt: skip
    plain = Endpoint("127.0.0.1", plain_port)
    secure = Endpoint("127.0.0.1", tls_port, tls=True, ca_certificate=str(tls / "ca.crt"))
    deadline = time.monotonic() + 10
    while True:
        try:
            plain.version()
            secure.version()
            break
        except OSError:
            assert time.monotonic() < deadline, "memcached did not start"
            time.sleep(0.1)
    try:
        yield plain, secure, tls
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


def test_version_and_stats(memcached: tuple[Endpoint, Endpoint, Path]) -> None:
    plain, secure, _ = memcached
    assert plain.version().startswith("1.")
    assert int(plain.stats()["curr_items"]) >= 0
    assert int(secure.stats()["curr_connections"]) >= 1


def test_refresh_certs_loads_a_new_certificate(memcached: tuple[Endpoint, Endpoint, Path]) -> None:
    _, secure, tls = memcached
    assert secure.served_fingerprint() == file_fingerprint(str(tls / "node.crt"))
    make_tls_files(tls)  # a new certificate in the same files (signed by a new CA: not checked here)
    secure.ca_certificate = ""
    assert secure.refresh_certs() == "OK"
    assert secure.served_fingerprint() == file_fingerprint(str(tls / "node.crt"))


def test_a_sasl_instance_answers_the_binary_protocol(tmp_path: Path) -> None:
    port = free_port()
    binary = [shutil.which("memcached") or "memcached", *(["-u", "root"] if os.geteuid() == 0 else [])]
    # Cyrus SASL needs a configuration to start with (the role writes one, with its users).
    (tmp_path / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {tmp_path}/sasldb2\n")
    sasl = subprocess.Popen(
        [*binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16", "-S"],
        env={**os.environ, "SASL_CONF_PATH": str(tmp_path)},
    )
    try:
        endpoint = Endpoint("127.0.0.1", port, sasl=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                assert endpoint.version()
                break
            except OSError:
                assert time.monotonic() < deadline, "memcached -S did not start"
                time.sleep(0.1)
        assert endpoint.stats() == {}
    finally:
        sasl.terminate()
        sasl.wait(10)

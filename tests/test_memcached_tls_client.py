# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.memcached's TLS backend against a real memcached with TLS on loopback.

memcached's TLS stalls on a pipelined request of many small commands larger than its 16 KiB
read buffer (seen with 1.6.18 and 1.6.38): pymemcache's own HashClient times out there. The
backend's client sends set_many()/get_many() in bounded requests and keeps every key.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from pymemcache.client.hash import HashClient

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)

from cachewright_django.memcached import PyMemcacheTLSCache, TLSHashClient

PORT = 11396


def free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("mc-tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    assert free(PORT), f"port {PORT} is taken"
    process = subprocess.Popen(
        ["memcached", "-u", "nobody" if os.geteuid() == 0 else os.environ.get("USER", "nobody"),
         "-l", "127.0.0.1", "-p", str(PORT), "-U", "0", "-m", "64", "-Z",
         "-o", f"ssl_chain_cert={directory / 'cert.pem'},ssl_key={directory / 'key.pem'}"],
    )  # fmt: skip
    os.chmod(directory, 0o755)
    for path in directory.iterdir():
        path.chmod(0o644)
    deadline = time.monotonic() + 10
    while free(PORT):
        assert process.poll() is None and time.monotonic() < deadline, "memcached did not start"
        time.sleep(0.05)
    yield directory
    process.terminate()
    process.wait(10)


def context(directory: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(directory / "cert.pem"))


def values(count: int, size: int = 100) -> dict[str, bytes]:
    """Keys of 45 characters, as a Django alias makes them (prefix, version, the app's key)."""
    return {f"django:1:cw-tls:{'k' * 24}:{i:05d}": b"v" * size for i in range(count)}


def test_pymemcache_alone_stalls_on_a_pipelined_request_over_16_kib(server: Path) -> None:
    # What the backend works around: 140 to 1000 sets of 100 B in one request each; where
    # the 16 KiB boundary falls decides which stall.
    stalled = []
    for count in (140, 200, 300, 1000):
        client = HashClient(
            [("localhost", PORT)], tls_context=context(server), timeout=1, default_noreply=False
        )
        try:
            client.set_many(values(count), expire=60)
        except OSError:
            stalled.append(count)
        client.close()
    print(f"pymemcache's HashClient alone: set_many of {stalled} keys timed out")
    assert stalled


@pytest.mark.parametrize(
    ("count", "size"),
    [(140, 100), (200, 100), (300, 100), (1000, 100), (5000, 100), (300, 2000), (3, 200_000)],
)
def test_the_backend_client_keeps_every_key_of_set_many(server: Path, count: int, size: int) -> None:
    client = TLSHashClient(
        [("localhost", PORT)], tls_context=context(server), timeout=1, default_noreply=False
    )
    data = values(count, size)
    assert client.set_many(data, expire=60) == []
    assert client.get_many(list(data)) == data


def test_django_alias_set_many_and_get_many(server: Path) -> None:
    cache: Any = PyMemcacheTLSCache(
        f"localhost:{PORT}",
        {"OPTIONS": {"tls": {"ca_certs": str(server / "cert.pem")}, "timeout": 1.0}, "KEY_PREFIX": "cwt"},
    )
    data = {f"k{i}": {"n": i, "text": "x" * 50} for i in range(3000)}
    assert cache.set_many(data, 60) == []
    assert cache.get_many(list(data)) == data
    cache.delete_many(list(data))
    assert cache.get_many(list(data)) == {}

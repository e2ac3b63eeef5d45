# SPDX-License-Identifier: Apache-2.0
"""Throw-away memcached processes on loopback, for the tests that need live servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import require


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def memcached_servers(count: int) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """`count` memcached processes (16 MiB, TCP on 127.0.0.1), by their host:port; stopped
    afterwards (a stopped one - SIGSTOP - is continued first)."""
    require("memcached")
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    command = ["memcached", "-l", "127.0.0.1", "-U", "0", "-m", "16", *user]
    ports = [free_port() for _ in range(count)]
    processes = {f"127.0.0.1:{p}": subprocess.Popen([*command, "-p", str(p)]) for p in ports}
    try:
        deadline = time.monotonic() + 10
        for port in ports:
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                assert time.monotonic() < deadline, "memcached did not start"
                time.sleep(0.05)
        yield processes
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGCONT)
            process.terminate()
            process.wait(10)

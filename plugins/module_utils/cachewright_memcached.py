"""Cachewright's memcached operations, shared by plugins/modules/memcached_instances.py.

Talks memcached's text protocol for the three admin commands the modules need (``version``,
``stats``, ``refresh_certs``) over TCP or TLS with the standard library: pymemcache, where
a distribution packages it (Debian 12: 3.5.2), cannot send ``refresh_certs``.
Decides whether a restart can keep the cache (warm restart, memcached -e): the options the
memory file depends on must not change. Tested by tests/test_module_utils_memcached.py.
"""

from __future__ import annotations

import shlex
import socket
import struct
from dataclasses import dataclass
from typing import Any

from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    client_context,
    served_fingerprint,
)

# Options that shape the memory file: a change between two runs makes memcached start with
# an empty cache (memcached's warm restart documentation).
WARM_FLAGS = {
    "-m": "memory (-m)",
    "-I": "largest item (-I)",
    "-n": "smallest chunk (-n)",
    "-f": "chunk growth factor (-f)",
    "-C": "CAS off (-C)",
    "-L": "large pages (-L)",
}
WARM_SUBOPTIONS = ("slab_chunk_max", "slab_sizes", "slab_reassign", "no_slab_reassign", "hashpower")
FLAGS_WITHOUT_VALUE = {"-C", "-L", "-S", "-Z", "-v", "-vv", "-d", "-M", "-r", "-k"}


def parse_argv(argv: list[str]) -> dict[str, Any]:
    """memcached's options as {flag: value}; -o sub-options as {'-o': {name: value}}."""
    options: dict[str, Any] = {"-o": {}}
    index = 0
    while index < len(argv):
        flag = argv[index]
        if flag in FLAGS_WITHOUT_VALUE or not flag.startswith("-"):
            options[flag] = True
            index += 1
            continue
        value = argv[index + 1] if index + 1 < len(argv) else ""
        if flag == "-o":
            for item in value.split(","):
                name, _unused, setting = item.partition("=")
                options["-o"][name] = setting or True
        else:
            options[flag] = value
        index += 2
    return options


def warm_blockers(running: list[str], wanted: list[str]) -> list[str]:
    """Why a restart from `running` options to `wanted` ones cannot keep the cache; [] if it can."""
    old, new = parse_argv(running), parse_argv(wanted)
    if "-e" not in new:
        return ["warm restart is off (no -e memory file)"]
    if "-e" not in old:
        return ["the running instance has no memory file yet (started without -e)"]
    if old["-e"] != new["-e"]:
        return [f"memory file {old['-e']} -> {new['-e']}"]
    blockers = [
        f"{label} {old.get(flag, 'default')} -> {new.get(flag, 'default')}"
        for flag, label in WARM_FLAGS.items()
        if old.get(flag) != new.get(flag)
    ]
    blockers += [
        f"-o {name} {old['-o'].get(name, 'default')} -> {new['-o'].get(name, 'default')}"
        for name in WARM_SUBOPTIONS
        if old["-o"].get(name) != new["-o"].get(name)
    ]
    return blockers


def options_from_file(text: str) -> list[str]:
    """The options of an instance file (MEMCACHED_OPTIONS="..." written by roles/memcached)."""
    for line in text.splitlines():
        if line.startswith("MEMCACHED_OPTIONS="):
            return shlex.split(shlex.split(line.partition("=")[2])[0])
    return []


@dataclass
class Endpoint:
    """One instance as a client reaches it, with the TLS files to present when asked."""

    host: str
    port: int
    tls: bool = False
    # A SASL instance speaks only the binary protocol, and little before a client logs in.
    sasl: bool = False
    ca_certificate: str = ""
    certificate: str = ""
    private_key: str = ""
    timeout: float = 3.0

    def command(self, line: str, end: tuple[str, ...] = ("END", "OK", "ERROR")) -> list[str]:
        """Send one text-protocol command; the reply lines up to the terminating one."""
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
            stream = self.context().wrap_socket(raw) if self.tls else raw
            with stream:
                stream.sendall(line.encode() + b"\r\n")
                data = b""
                while True:
                    chunk = stream.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    lines = data.decode(errors="replace").split("\r\n")
                    if any(row == tag or row.startswith(tag + " ") for row in lines for tag in end):
                        break
                    if lines[0].startswith(("VERSION", "CLIENT_ERROR", "SERVER_ERROR")):
                        break
        return [row for row in data.decode(errors="replace").split("\r\n") if row]

    def binary_version(self) -> str:
        """The binary protocol's VERSION: a SASL instance answers it (with its version, or
        "auth required"), which proves it is up."""
        request = struct.pack(">BBHBBHIIQ", 0x80, 0x0B, 0, 0, 0, 0, 0, 0, 0)
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
            stream = self.context().wrap_socket(raw) if self.tls else raw
            with stream:
                stream.sendall(request)
                header = stream.recv(24)
                if len(header) < 24 or header[0] != 0x81:
                    raise OSError(f"no binary-protocol answer from {self.host}:{self.port}")
                status, length = struct.unpack(">H", header[6:8])[0], struct.unpack(">I", header[8:12])[0]
                body = stream.recv(length) if length else b""
        return body.decode(errors="replace") if status == 0 else f"answers (status {status:#x})"

    def version(self) -> str:
        if self.sasl:
            return self.binary_version()
        reply = self.command("version")
        if not reply or not reply[0].startswith("VERSION"):
            raise OSError(f"no version from {self.host}:{self.port}: {reply}")
        return reply[0].split(" ", 1)[1]

    def stats(self) -> dict[str, str]:
        """`stats` of the text protocol ({} on a SASL instance, which needs a login first)."""
        if self.sasl:
            return {}
        return {
            parts[1]: parts[2]
            for parts in (row.split(" ", 2) for row in self.command("stats"))
            if len(parts) == 3 and parts[0] == "STAT"
        }

    def refresh_certs(self) -> str:
        reply = self.command("refresh_certs")
        return reply[0] if reply else ""

    def context(self) -> Any:
        return client_context(self.ca_certificate, self.certificate, self.private_key)

    def served_fingerprint(self) -> str:
        """SHA-256 of the certificate the instance serves."""
        return served_fingerprint(self.host, self.port, self.context(), self.timeout)

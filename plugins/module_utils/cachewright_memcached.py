# SPDX-License-Identifier: Apache-2.0
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
import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_host import (
    process_argv,
    process_outdated,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    client_context,
    file_fingerprint,
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


class Instances:
    """This host's memcached instances as the instance modules see them (memcached_instances,
    memcached_instances_info): read, restart keeping the cache, reload TLS."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.params = module.params
        self.reloaded_daemon = not module.params.get("daemon_reload")

    def endpoint(self, instance: dict[str, Any]) -> Endpoint:
        return Endpoint(
            host=str(instance.get("address") or "127.0.0.1"),
            port=int(instance["port"]),
            tls=bool(instance.get("tls")),
            sasl=bool(instance.get("sasl")),
            ca_certificate=self.params["tls_ca_certificate"] or "",
            certificate=self.params["tls_certificate"] or "",
            private_key=self.params["tls_private_key"] or "",
        )

    def unit(self, name: str) -> str:
        return self.params["unit"].replace("{name}", name)

    def main_pid(self, name: str) -> int:
        _unused, out, _unused = self.module.run_command(
            ["systemctl", "show", "-p", "MainPID", "--value", self.unit(name)]
        )
        return int(out.strip() or 0)

    def read(self, instance: dict[str, Any]) -> dict[str, Any]:
        name = instance["name"]
        pid = self.main_pid(name)
        state: dict[str, Any] = {"running": pid > 0}
        if not pid:
            return state
        running = process_argv(pid)[1:]
        state["outdated"] = process_outdated(pid)
        options = self.params["options_file"].replace("{name}", name)
        try:
            with open(options, encoding="utf-8") as stream:
                wanted = options_from_file(stream.read())
        except OSError:
            wanted = []
        state["warm_blockers"] = warm_blockers(running, wanted)
        try:
            stats = self.endpoint(instance).stats()
            state["items"] = int(stats["curr_items"]) if "curr_items" in stats else None
        except OSError as error:
            state["items"], state["error"] = None, f"{type(error).__name__}: {error}"
        return state

    def restart(self, name: str) -> None:
        if not self.reloaded_daemon:
            self.module.run_command(["systemctl", "daemon-reload"], check_rc=True)
            self.reloaded_daemon = True
        self.module.run_command(["systemctl", "restart", self.unit(name)], check_rc=True)

    def gate(self, instance: dict[str, Any]) -> float:
        """Seconds until the instance answers `version` again; fails the module after wait_seconds."""
        start = time.monotonic()
        seen = "nothing yet"
        while time.monotonic() - start < self.params["wait_seconds"]:
            try:
                self.endpoint(instance).version()
                return time.monotonic() - start
            except OSError as error:
                seen = f"{type(error).__name__}: {error}"
                time.sleep(0.1)
        self.module.fail_json(
            msg=f"memcached@{instance['name']}: does not answer within {self.params['wait_seconds']} s "
            f"after its restart (last seen: {seen}). The roll-out stops here."
        )
        return 0.0

    def restarted(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        chosen = []
        for instance in self.params["instances"]:
            state = self.read(instance)
            results[instance["name"]] = {**state, "action": "none"}
            if not state["running"] or not self.params["only_outdated"] or state.get("outdated"):
                chosen.append(instance)
        for instance in chosen:
            name, state = instance["name"], results[instance["name"]]
            blockers = state.get("warm_blockers") or []
            if state["running"] and blockers:
                self.module.warn(
                    f"memcached@{name}: warm restart impossible ({'; '.join(blockers)}): it comes back "
                    f"with an empty cache ({state.get('items')} items now)"
                )
            if self.module.check_mode:
                state["action"] = "would restart"
                continue
            start = time.monotonic()
            self.restart(name)
            self.gate(instance)
            after = self.endpoint(instance).stats()
            state.update(
                action="restarted" if state["running"] else "started (was not running)",
                seconds=round(time.monotonic() - start, 2),
                items_after=int(after["curr_items"]) if "curr_items" in after else None,
                warm=not blockers,
            )
            if not blockers and (state.get("items") or 0) > 0 and not state["items_after"]:
                self.module.warn(
                    f"memcached@{name}: warm restart was expected, but the cache came back empty"
                )
        return {"changed": bool(chosen), "instances": results}

    def reloaded(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        changed = False
        wanted = file_fingerprint(self.params["tls_certificate"]) if self.params["tls_certificate"] else ""
        for instance in self.params["instances"]:
            name = instance["name"]
            if not instance.get("tls"):
                results[name] = {"action": "none (no TLS)"}
                continue
            endpoint = self.endpoint(instance)
            try:
                served = endpoint.served_fingerprint()
            except OSError:
                results[name] = {"action": "none (not running: it reads its files when it starts)"}
                continue
            if served == wanted:
                results[name] = {"action": "none (serves the certificate on disk)"}
                continue
            changed = True
            if self.module.check_mode:
                results[name] = {"action": "would reload"}
                continue
            reply = endpoint.refresh_certs()
            if reply != "OK" or endpoint.served_fingerprint() != wanted:
                self.module.fail_json(
                    msg=f"memcached@{name}: refresh_certs answered {reply!r}; "
                    "the new certificate is not served"
                )
            results[name] = {"action": "reloaded (refresh_certs)"}
        return {"changed": changed, "instances": results}

    def info(self) -> dict[str, Any]:
        return {"changed": False, "instances": {i["name"]: self.read(i) for i in self.params["instances"]}}

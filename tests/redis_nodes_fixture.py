# SPDX-License-Identifier: Apache-2.0
"""Throw-away Redis primaries, replicas and Sentinels on loopback, for the module_utils tests.

Each node runs the machine's redis-server (scripts/test.sh installs Debian's) with an ACL
file like the role's (the default user off, an admin user, a replication user), a unix
socket and its own directory; `restart()` is what systemctl restart does to the role's
units: SIGTERM, then the same command again.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis

from redis_cluster_fixture import LocalCluster

# Until a condition holds, or TimeoutError (the cluster fixture's).
wait = LocalCluster.wait
ADMIN, ADMIN_PASSWORD = "cw-admin", "test-only-admin"
REPLICATION, REPLICATION_PASSWORD = "cw-replication", "test-only-replication"
SENTINEL_PASSWORD = "test-only-sentinel"


@dataclass
class Node:
    """One redis-server (or Sentinel) process."""

    workdir: Path
    port: int
    persistence: str = "none"
    sentinel: bool = False
    process: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.workdir / str(self.port)

    @property
    def socket(self) -> str:
        return str(self.directory / "redis.sock")

    def write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "redis.conf"
        if config.exists():  # CONFIG REWRITE and Sentinel keep their state in it
            return config
        if self.sentinel:
            text = (
                f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\nrequirepass {SENTINEL_PASSWORD}\n"
            )
            text += f"sentinel sentinel-pass {SENTINEL_PASSWORD}\n"
        else:
            acl = self.directory / "users.acl"
            acl.write_text(
                "user default off resetpass ~* &* +@all\n"
                f"user {ADMIN} on >{ADMIN_PASSWORD} ~* &* +@all\n"
                f"user {REPLICATION} on >{REPLICATION_PASSWORD} -@all +psync +replconf +ping\n",
                encoding="utf-8",
            )
            save = '"3600 1"' if "rdb" in self.persistence else '""'
            text = (
                f"port {self.port}\nbind 127.0.0.1\nunixsocket {self.socket}\nunixsocketperm 700\n"
                f"dir {self.directory}\nsave {save}\n"
                f"appendonly {'yes' if 'aof' in self.persistence else 'no'}\n"
                f"aclfile {acl}\nmasteruser {REPLICATION}\nmasterauth {REPLICATION_PASSWORD}\n"
                "repl-diskless-sync-delay 0\n"
            )
        config.write_text(text + "".join(f"{line}\n" for line in self.extra), encoding="utf-8")
        return config

    def start(self) -> Node:
        config = self.write_config()
        command = [shutil.which("redis-server") or "redis-server", str(config)]
        if self.sentinel:
            command.append("--sentinel")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: self.client().ping(), 15)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        if self.sentinel:
            return redis.Redis(host="127.0.0.1", port=self.port, password=SENTINEL_PASSWORD, socket_timeout=2)
        return redis.Redis(
            host="127.0.0.1", port=self.port, username=ADMIN, password=ADMIN_PASSWORD, socket_timeout=2
        )


@dataclass
class Group:
    """A primary, its replicas and (optionally) three Sentinels watching it as `name`."""

    workdir: Path
    base_port: int
    replicas: int = 1
    sentinels: int = 0
    persistence: str = "none"
    name: str = "drill"
    nodes: list[Node] = field(default_factory=list)
    watchers: list[Node] = field(default_factory=list)

    def start(self) -> Group:
        for index in range(1 + self.replicas):
            node = Node(self.workdir, self.base_port + index, self.persistence).start()
            if index:
                node.client().execute_command("REPLICAOF", "127.0.0.1", self.base_port)
                node.client().execute_command("CONFIG", "REWRITE")
            self.nodes.append(node)
        for node in self.nodes[1:]:
            wait(lambda node=node: node.client().info("replication")["master_link_status"] == "up", 15)
        for index in range(self.sentinels):
            lines = [
                f"sentinel monitor {self.name} 127.0.0.1 {self.base_port} 2",
                f"sentinel auth-user {self.name} {ADMIN}",
                f"sentinel auth-pass {self.name} {ADMIN_PASSWORD}",
                f"sentinel down-after-milliseconds {self.name} 2000",
                f"sentinel failover-timeout {self.name} 10000",
            ]
            watcher = Node(self.workdir, self.base_port + 100 + index, sentinel=True, extra=lines).start()
            self.watchers.append(watcher)
        for watcher in self.watchers:
            wait(
                lambda w=watcher: (
                    int(w.client().sentinel_master(self.name)["num-other-sentinels"]) == self.sentinels - 1
                ),
                15,
            )
            wait(
                lambda w=watcher: int(w.client().sentinel_master(self.name)["num-slaves"]) == self.replicas,
                15,
            )
        return self

    def by_socket(self, socket: str) -> Node:
        return next(node for node in self.nodes if node.socket == socket)

    def primary(self) -> Node:
        return next(node for node in self.nodes if node.client().info("replication")["role"] == "master")

    def stop(self) -> None:
        for node in self.watchers + self.nodes:
            node.stop()

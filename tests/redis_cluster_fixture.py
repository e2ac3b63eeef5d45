"""A throw-away 6-node Redis Cluster (3 primaries, 3 replicas) on loopback, for tests.

Started from the redis-server binary of the machine (scripts/test.sh installs Debian's
redis-server); every node listens on 127.0.0.1 only and is stopped after the tests.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

ADMIN_PASSWORD = "test-only-cluster-admin"
APP_USER, APP_PASSWORD = "app", "test-only-cluster-app"


@dataclass
class LocalCluster:
    """Six redis-server processes in cluster mode, formed into one cluster."""

    workdir: Path
    base_port: int = 30001
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ports(self) -> list[int]:
        return [self.base_port + i for i in range(6)]

    def start_node(self, port: int) -> None:
        node_dir = self.workdir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        config = node_dir / "redis.conf"
        config.write_text(
            f"bind 127.0.0.1\nport {port}\ndir {node_dir}\ncluster-enabled yes\n"
            'cluster-config-file nodes.conf\ncluster-node-timeout 2000\nsave ""\nappendonly no\n'
            f"requirepass {ADMIN_PASSWORD}\nmasterauth {ADMIN_PASSWORD}\n"
            f"user {APP_USER} on >{APP_PASSWORD} ~* &* +@all\n",
            encoding="utf-8",
        )
        self.processes[port] = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, password=ADMIN_PASSWORD, socket_timeout=2)

    def start(self) -> None:
        for port in self.ports:
            self.start_node(port)
        for port in self.ports:
            self.wait(lambda port=port: self.node(port).ping(), 10)
        subprocess.run(
            ["redis-cli", "-a", ADMIN_PASSWORD, "--no-auth-warning", "--cluster", "create",
             *[f"127.0.0.1:{p}" for p in self.ports], "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.wait_ok(30)

    def wait_ok(self, seconds: float) -> None:
        def every_node_ok() -> bool:
            return all(
                self.node(p).cluster("INFO")["cluster_state"] == "ok"
                for p in self.ports
                if self.processes[p].poll() is None
            )

        self.wait(every_node_ok, seconds)

    @staticmethod
    def wait(condition: object, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if condition():  # type: ignore[operator]
                    return
            except redis.RedisError as exc:
                last = exc
            time.sleep(0.2)
        raise TimeoutError(f"condition not met within {seconds}s (last error: {last})")

    def primaries(self) -> list[int]:
        return [
            p for p in self.ports
            if self.processes[p].poll() is None and self.node(p).info("replication")["role"] == "master"
        ]  # fmt: skip

    def kill(self, port: int) -> None:
        self.processes[port].kill()
        self.processes[port].wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

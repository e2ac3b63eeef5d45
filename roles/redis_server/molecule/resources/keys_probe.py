"""Keys written with SET, a MULTI/EXEC pipeline (django-redis set_many), INCR and a script
must all come back when an instance restarts: with AOF under the role's ACL file, and
through the role's safe restart path whatever the instance's persistence.

    python keys_probe.py write SPEC    # client: write them to every server of the spec
    python keys_probe.py check SPEC    # client: after the restart, every one is there
    AOF_PROBE_PASSWORD=... python3 keys_probe.py local BINARY ACLFILE USER   # on a Redis host:
        # the same with a server binary (valkey-server too) started on the role's ACL file
        # in a temporary directory, AOF on

With the default user at -@all, Redis 7.0/8.0 and Valkey 8.1 drop every MULTI/EXEC and
script of the AOF at restart (redis/redis#14541, valkey-io/valkey#3983).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

KINDS = {"set": 1, "set_many": 2, "incr": 1, "script": 2}


def write(client: redis.Redis, prefix: str) -> None:
    client.set(f"{prefix}set:0", "v")
    with client.pipeline(transaction=True) as pipe:  # MULTI/EXEC, as django-redis set_many
        pipe.set(f"{prefix}set_many:0", "v").set(f"{prefix}set_many:1", "v").execute()
    client.incr(f"{prefix}incr:0")
    client.eval(
        "redis.call('SET', KEYS[1], 'v') redis.call('SET', KEYS[2], 'v') return 1",
        2, f"{prefix}script:0", f"{prefix}script:1",
    )  # fmt: skip


def count(client: redis.Redis, prefix: str) -> dict[str, str]:
    return {
        kind: f"{sum(1 for i in range(n) if client.exists(f'{prefix}{kind}:{i}'))}/{n}"
        for kind, n in KINDS.items()
    }


def complete(found: dict[str, str]) -> bool:
    return all(value.split("/")[0] == value.split("/")[1] for value in found.values())


def connect(server: dict[str, Any], spec: dict[str, Any]) -> redis.Redis:
    return redis.Redis(
        host=server["host"],
        port=server["port"],
        username=spec["user"],
        password=spec["password"],
        socket_timeout=5,
    )


def local(binary: str, aclfile: str, user: str) -> int:
    """Start `binary` on a copy of the role's ACL file with AOF on, write, restart, count."""
    workdir = Path(tempfile.mkdtemp(prefix="aof-probe-"))
    shutil.copy(aclfile, workdir / "users.acl")
    socket = workdir / "redis.sock"
    (workdir / "server.conf").write_text(
        f'port 0\nunixsocket {socket}\ndir {workdir}\nappendonly yes\nappendfsync always\nsave ""\n'
        f"aclfile {workdir}/users.acl\nlogfile {workdir}/server.log\n",
        encoding="utf-8",
    )

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([binary, str(workdir / "server.conf")])
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return process

    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[2]
    process = start()
    password = os.environ["AOF_PROBE_PASSWORD"]
    client = redis.Redis(unix_socket_path=str(socket), username=user, password=password, socket_timeout=5)
    prefix = "app:aof:"
    write(client, prefix)
    process.terminate()
    process.wait(10)
    socket.unlink(missing_ok=True)
    process = start()
    found = count(client, prefix)
    process.terminate()
    process.wait(10)
    dropped = sum(1 for line in (workdir / "server.log").read_text().splitlines() if "NOPERM" in line)
    shutil.rmtree(workdir)
    print(f"{Path(binary).name} {version}: {found}, NOPERM lines at load: {dropped}")
    return 0 if complete(found) and not dropped else 1


def main(args: list[str]) -> int:
    if args[0] == "local":
        return local(*args[1:4])
    spec = json.loads(Path(args[1]).read_text(encoding="utf-8"))
    failed = 0
    for server in spec["servers"]:
        client = connect(server, spec)
        if args[0] == "write":
            write(client, spec["prefix"])
            continue
        found = count(client, spec["prefix"])
        admin = redis.Redis(
            host=server["host"], port=server["port"], username=spec.get("admin_user"),
            password=spec.get("admin_password"), socket_timeout=5,
        )  # fmt: skip
        role = admin.execute_command("ROLE")[0].decode() if spec.get("admin_user") else "not read"
        print(f"{server['host']}:{server['port']} after its restart: {found}, role {role}")
        failed += 0 if complete(found) and (role == "master" or not server.get("primary")) else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

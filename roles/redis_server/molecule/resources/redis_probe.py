"""Check deployed Redis instances from a client host, as an application would use them.

Run by verify.yml on the client container with the pinned redis-py (and hiredis):
    python redis_probe.py spec.json
Every check that does not hold is reported; the script exits 1 if any failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

import redis
from cw_checks import check, expect_error, report


def connect(server: dict[str, Any], spec: dict[str, Any], **overrides: Any) -> redis.Redis:
    """A redis-py client for the server as the spec's app user (overrides win)."""
    kwargs: dict[str, Any] = {
        "host": server["host"],
        "port": server["port"],
        "username": spec["app_user"],
        "password": spec["app_password"],
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
    }
    if server["tls"]:
        kwargs.update(ssl=True, ssl_ca_certs=spec["ca"], ssl_cert_reqs="required")
        if spec.get("client_cert"):
            kwargs.update(ssl_certfile=spec["client_cert"], ssl_keyfile=spec["client_key"])
    kwargs.update(overrides)
    return redis.Redis(**kwargs)


def as_admin(server: dict[str, Any], spec: dict[str, Any]) -> redis.Redis:
    return connect(server, spec, username=spec["admin_user"], password=spec["admin_password"])


def app_round_trip(server: dict[str, Any], spec: dict[str, Any]) -> None:
    client = connect(server, spec)
    key = f"{spec['prefix']}probe:{uuid.uuid4().hex}"
    assert client.set(key, b"value", ex=60), "SET failed"
    assert client.get(key) == b"value", "GET did not return the value"
    assert client.delete(key) == 1, "DEL did not delete"


def settings_match(server: dict[str, Any], spec: dict[str, Any]) -> None:
    client = as_admin(server, spec)
    for key, want in server["expect"].items():
        have = client.config_get(key).get(key)
        assert str(have) == str(want), f"CONFIG GET {key} = {have!r}, expected {want!r}"


def runs_flavor(server: dict[str, Any], spec: dict[str, Any]) -> None:
    """The server is the one the inventory asked for: Valkey names itself in INFO server."""
    info = as_admin(server, spec).info("server")
    have = info.get("server_name") or "redis"
    version = info.get("valkey_version") or info.get("redis_version")
    assert have == server["flavor"], f"INFO server says {have} {version}"


def redis_cli_round_trip(server: dict[str, Any], spec: dict[str, Any]) -> None:
    """The same with redis-cli, the tool an operator reaches for."""
    base = ["redis-cli", "-h", server["host"], "-p", str(server["port"]), "--user", spec["app_user"],
            "--pass", spec["app_password"], "--no-auth-warning"]  # fmt: skip
    if server["tls"]:
        base += ["--tls", "--cacert", spec["ca"]]
        if spec.get("client_cert"):
            base += ["--cert", spec["client_cert"], "--key", spec["client_key"]]
    key = f"{spec['prefix']}cli:{uuid.uuid4().hex}"
    for command, want in ((["SET", key, "v", "EX", "60"], "OK"), (["GET", key], "v"), (["DEL", key], "1")):
        out = subprocess.run(base + command, capture_output=True, text=True, timeout=10, check=False)
        assert out.stdout.strip() == want, f"redis-cli {' '.join(command)}: {out.stdout!r} {out.stderr!r}"


def acl_checks(server: dict[str, Any], spec: dict[str, Any]) -> None:
    where = f"{server['host']}:{server['port']}"
    anonymous = connect(server, spec, username=None, password=None)
    expect_error(f"{where} without credentials", lambda: anonymous.get(f"{spec['prefix']}x"), "auth")
    expect_error(
        f"{where} app user outside its prefix",
        lambda: connect(server, spec).set("other:probe", b"x"),
        "NOPERM",
    )
    dangerous = {
        "FLUSHALL": ["FLUSHALL"],
        "CONFIG": ["CONFIG", "GET", "maxmemory"],
        "KEYS": ["KEYS", "*"],
        "DEBUG": ["DEBUG", "SLEEP", "0"],
        "SHUTDOWN": ["SHUTDOWN", "NOSAVE"],
    }
    for name, command in dangerous.items():
        # Over the app user's own connection (Redis may refuse DEBUG before the ACL does:
        # enable-debug-command no), and as the ACL itself judges it (ACL DRYRUN).
        expect_error(
            f"{where} app user refused {name}",
            lambda command=command: connect(server, spec).execute_command(*command),
            "NOPERM" if name != "DEBUG" else "not allowed",
        )
        check(
            f"{where} ACL denies {name} to the app user",
            lambda command=command: _acl_denies(server, spec, command),
        )


def _acl_denies(server: dict[str, Any], spec: dict[str, Any], command: list[str]) -> None:
    verdict = as_admin(server, spec).execute_command("ACL", "DRYRUN", spec["app_user"], *command)
    assert verdict != b"OK", f"ACL DRYRUN allows {' '.join(command)}"


def tls_checks(server: dict[str, Any], spec: dict[str, Any]) -> None:
    where = f"{server['host']}:{server['port']}"
    expect_error(
        f"{where} TLS without the CA",
        lambda: connect(server, spec, ssl_ca_certs=None, ssl_ca_path="/nonexistent").ping(),
        "certificate verify failed",
    )
    expect_error(
        f"{where} TLS to a name the certificate does not hold ({spec['wrong_name']})",
        lambda: connect(server, spec, host=spec["wrong_name"]).ping(),
        "match",
    )
    if spec.get("client_cert"):
        expect_error(
            f"{where} TLS without a client certificate (tls-auth-clients yes)",
            lambda: connect(server, spec, ssl_certfile=None, ssl_keyfile=None).ping(),
            "Error",
        )
    expect_error(
        f"{where} plain text to the TLS port",
        lambda: connect(server, spec, ssl=False).ping(),
        "Error",
    )


def replication_checks(spec: dict[str, Any]) -> None:
    primary, replicas = spec["primary"], spec["replicas"]
    for replica in replicas:
        info = as_admin(replica, spec).info("replication")
        check_label = f"{replica['host']}:{replica['port']} follows its primary"
        check(check_label, lambda info=info: _assert_link_up(info))
    key = f"{spec['prefix']}replicated:{uuid.uuid4().hex}"
    check("write on the primary", lambda: connect(primary, spec).set(key, b"from-primary", ex=120))
    for replica in replicas:
        where = f"{replica['host']}:{replica['port']}"
        check(f"{where} reads the primary's write", lambda r=replica: _eventually_get(r, spec, key))
        expect_error(f"{where} refuses writes", lambda r=replica: connect(r, spec).set(key, b"x"), "READONLY")


def _assert_link_up(info: dict[str, Any]) -> None:
    assert info.get("role") == "slave", f"role is {info.get('role')}"
    assert info.get("master_link_status") == "up", f"master_link_status is {info.get('master_link_status')}"


def _eventually_get(replica: dict[str, Any], spec: dict[str, Any], key: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if connect(replica, spec).get(key) == b"from-primary":
            return
        time.sleep(0.2)
    raise AssertionError("the key did not arrive within 10 s")


def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as stream:
        spec = json.load(stream)
    print(f"redis-py {redis.__version__}, hiredis: {redis.utils.HIREDIS_AVAILABLE}")
    for server in spec["servers"]:
        where = f"{server['host']}:{server['port']}"
        if not server.get("replica"):
            check(f"{where} app user SET/GET/DEL under its prefix", lambda s=server: app_round_trip(s, spec))
            check(f"{where} redis-cli round trip", lambda s=server: redis_cli_round_trip(s, spec))
        check(f"{where} runs {server['flavor']}", lambda s=server: runs_flavor(s, spec))
        check(f"{where} settings {server['expect']}", lambda s=server: settings_match(s, spec))
        acl_checks(server, spec)
        if server["tls"]:
            tls_checks(server, spec)
    if spec.get("primary"):
        replication_checks(spec)
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""Check a deployed memcached pool from a client host, as an application would see it.

Run by verify.yml on the client container with the pinned pymemcache and pylibmc:
    python memcached_probe.py spec.json
The spec (JSON) lists what must work and what must be refused; every check that does
not hold is reported and the script exits 1.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from typing import Any

import pylibmc
from cw_checks import FAILURES, check, expect_error, report
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

# As Django's PyMemcacheCache: wait for every reply (noreply would hide refusals).
CLIENT_OPTIONS: dict[str, Any] = {"connect_timeout": 3, "timeout": 3, "default_noreply": False}


def tls_context(ca: str | None, server: dict[str, Any] | None = None) -> ssl.SSLContext:
    """Trust `ca` (None: the system's CAs); present the client certificate to a server
    that asks for one."""
    context = ssl.create_default_context(cafile=ca)
    if ca is None:
        context.load_default_certs()
    if server is not None and server.get("verify_clients"):
        context.load_cert_chain(server["certificate"], server["private_key"])
    return context


def pool_round_trip(servers: list[dict[str, Any]], keys: int) -> None:
    """set/get/delete through HashClient; every server must hold some of the keys."""
    client = HashClient([(s["host"], s["port"]) for s in servers], **CLIENT_OPTIONS)
    data = {f"cw-probe:{i}": f"value-{i}".encode() for i in range(keys)}
    for key, value in data.items():
        assert client.set(key, value, expire=120), f"set {key} failed"
    for key, value in data.items():
        got = client.get(key)
        assert got == value, f"get {key} returned {got!r}"
    per_server = []
    for server in servers:
        single = Client((server["host"], server["port"]), **CLIENT_OPTIONS)
        held = sum(1 for key in data if single.get(key) is not None)
        per_server.append(held)
        single.close()
    print(f"     keys per server: {dict(zip([s['host'] for s in servers], per_server, strict=True))}")
    assert all(per_server), f"a server holds none of the {keys} keys: {per_server}"
    assert sum(per_server) == keys, f"keys found {sum(per_server)} times, not {keys}"
    for key in data:
        client.delete(key)
    assert all(client.get(key) is None for key in data), "a deleted key is still there"
    client.close()


def settings_match(server: dict[str, Any]) -> None:
    """`stats settings` of the server must show the configured limits, UDP off."""
    kwargs: dict[str, Any] = {}
    if server.get("tls"):
        kwargs["tls_context"] = tls_context(server["ca"], server)
    client = Client((server["host"], server["port"]), **CLIENT_OPTIONS, **kwargs)
    stats = {k.decode(): v for k, v in client.stats("settings").items()}
    client.close()
    for key, want in server["expect"].items():
        have = stats.get(key)
        have = have.decode() if isinstance(have, bytes) else have
        assert str(have) == str(want), f"stats settings {key} = {have!r}, expected {want!r}"


def tls_round_trip(server: dict[str, Any]) -> None:
    client = Client(
        (server["host"], server["port"]),
        **CLIENT_OPTIONS,
        tls_context=tls_context(server["ca"], server),
    )
    assert client.set("cw-probe:tls", b"over-tls", expire=60)
    assert client.get("cw-probe:tls") == b"over-tls"
    client.delete("cw-probe:tls")
    client.close()


def tls_without_ca(server: dict[str, Any]) -> None:
    client = Client(
        (server["host"], server["port"]),
        **CLIENT_OPTIONS,
        tls_context=tls_context(None),
    )
    client.get("cw-probe:tls")


def tls_without_client_certificate(server: dict[str, Any]) -> None:
    """The CA trusted, no client certificate: a server that asks for one closes the connection."""
    client = Client((server["host"], server["port"]), **CLIENT_OPTIONS, tls_context=tls_context(server["ca"]))
    assert client.set("cw-probe:tls-anon", b"x", expire=60), "the server refused the set"
    assert client.get("cw-probe:tls-anon") == b"x", "the server did not return the value"


def plain_to_tls_port(server: dict[str, Any]) -> None:
    client = Client((server["host"], server["port"]), **CLIENT_OPTIONS)
    client.get("cw-probe:tls")


def sasl_round_trip(server: dict[str, Any], user: str, password: str) -> None:
    client = pylibmc.Client(
        [f"{server['host']}:{server['port']}"], binary=True, username=user, password=password
    )
    assert client.set("cw-probe:sasl", "over-sasl", time=60)
    assert client.get("cw-probe:sasl") == "over-sasl"
    client.delete("cw-probe:sasl")


def sasl_wrong_password(server: dict[str, Any], user: str) -> None:
    client = pylibmc.Client(
        [f"{server['host']}:{server['port']}"], binary=True, username=user, password="not-the-password"
    )
    client.set("cw-probe:sasl", "x", time=60)


def sasl_anonymous(server: dict[str, Any]) -> None:
    client = Client((server["host"], server["port"]), **CLIENT_OPTIONS)
    client.set("cw-probe:anon", b"x", expire=60)
    assert client.get("cw-probe:anon") == b"x", "anonymous get did not return the value"


def tcp_refused(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=3):
        pass


def udp_closed(host: str, port: int) -> None:
    """A memcached UDP request must draw an ICMP 'port unreachable', not an answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3)
    sock.connect((host, port))
    frame = b"\x00\x01\x00\x00\x00\x01\x00\x00" + b"version\r\n"
    try:
        sock.send(frame)
        sock.recv(1024)
    except ConnectionRefusedError:
        return
    finally:
        sock.close()
    raise AssertionError("memcached answered over UDP")


def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as stream:
        spec = json.load(stream)
    # Each SASL server is checked in a process of its own: in a process where another
    # client's connection has failed or timed out, the libsasl2 bundled in pylibmc's
    # wheel fails every later authentication ("FAILED TO SEND AUTHENTICATION TO SERVER").
    for server in spec["servers"]:
        if server.get("sasl"):
            where = f"{server['host']}:{server['port']}"
            child = subprocess.run(
                [sys.executable, __file__, spec_path, "--sasl", where],
                capture_output=True, text=True, check=False, timeout=60,
            )  # fmt: skip
            print(child.stdout, end="")
            FAILURES.extend(
                f"{where} SASL: {line}" for line in child.stdout.splitlines() if line.startswith("FAIL")
            )
            if child.returncode not in (0, 1):
                FAILURES.append(f"{where} SASL check crashed: {child.stderr[-500:]}")
    plain = [s for s in spec["servers"] if not s.get("tls") and not s.get("sasl")]
    by_port: dict[int, list[dict[str, Any]]] = {}
    for server in plain:
        by_port.setdefault(server["port"], []).append(server)
    for port, servers in sorted(by_port.items()):
        check(
            f"pool round trip on port {port} across {len(servers)} server(s)",
            lambda servers=servers: pool_round_trip(servers, spec.get("keys", 300)),
        )
    for server in spec["servers"]:
        where = f"{server['host']}:{server['port']}"
        if not server.get("sasl"):
            check(f"{where} settings {server['expect']}", lambda s=server: settings_match(s))
        if server.get("tls"):
            check(f"{where} TLS round trip with the CA", lambda s=server: tls_round_trip(s))
            if server.get("verify_clients"):
                expect_error(
                    f"{where} TLS without a client certificate",
                    lambda s=server: tls_without_client_certificate(s),
                )
            expect_error(
                f"{where} TLS without the CA", lambda s=server: tls_without_ca(s), "CERTIFICATE_VERIFY_FAILED"
            )
            expect_error(f"{where} plain text to the TLS port", lambda s=server: plain_to_tls_port(s))
    for target in spec.get("refused", []):
        expect_error(
            f"{target['host']}:{target['port']} (address not listened on) refuses TCP",
            lambda t=target: tcp_refused(t["host"], t["port"]),
            "ConnectionRefusedError",
        )
    for target in spec.get("udp", []):
        check(
            f"{target['host']}:{target['port']} UDP closed", lambda t=target: udp_closed(t["host"], t["port"])
        )
    return report()


def sasl_main(spec_path: str, where: str) -> int:
    """The SASL checks of one server (host:port), in a process of their own."""
    with open(spec_path, encoding="utf-8") as stream:
        spec = json.load(stream)
    server = next(s for s in spec["servers"] if f"{s['host']}:{s['port']}" == where)
    check(
        f"{where} SASL round trip (pylibmc, binary)",
        lambda: sasl_round_trip(server, spec["sasl_user"], spec["sasl_password"]),
    )
    expect_error(
        f"{where} SASL with a wrong password",
        lambda: sasl_wrong_password(server, spec["sasl_user"]),
        "AUTHENTICATION FAILURE",
    )
    expect_error(f"{where} unauthenticated text protocol", lambda: sasl_anonymous(server))
    return report()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--sasl":
        sys.exit(sasl_main(sys.argv[1], sys.argv[3]))
    sys.exit(main(sys.argv[1]))

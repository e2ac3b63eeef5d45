# SPDX-License-Identifier: Apache-2.0
"""A throw-away 6-node Redis Cluster (3 primaries, 3 replicas) on loopback, for tests.

Started from the redis-server binary of the machine (scripts/test.sh installs Debian's
redis-server); every node listens on 127.0.0.1 only and is stopped after the tests.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ADMIN_PASSWORD = "test-only-cluster-admin"
APP_USER, APP_PASSWORD = "app", "test-only-cluster-app"


def make_tls_files(directory: Path) -> Path:
    """A throw-away CA and a certificate for 127.0.0.1 (ca.crt, node.crt, node.key)."""
    now = datetime.datetime.now(datetime.UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: object, ca: bool
    ) -> x509.Certificate:
        # The extensions strict verification wants (Python 3.13's default context sets
        # VERIFY_X509_STRICT): key identifiers, and key usage on the CA.
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),  # type: ignore[attr-defined]
                critical=False,
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )  # fmt: skip
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]

    directory.mkdir(parents=True, exist_ok=True)
    ca_key, node_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca_cert = build("test CA", ca_key, ca_name, ca_key, ca=True)
    node_cert = build("127.0.0.1", node_key, ca_name, ca_key, ca=False)
    (directory / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (directory / "node.crt").write_bytes(node_cert.public_bytes(serialization.Encoding.PEM))
    (directory / "node.key").write_bytes(
        node_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return directory


@dataclass
class LocalCluster:
    """Six redis-server processes in cluster mode, formed into one cluster."""

    workdir: Path
    # The cluster bus listens on port + 10000: both stay below the ephemeral ports (32768 and up),
    # which a connection of another test may hold.
    base_port: int = 20001
    tls_dir: Path | None = None
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ports(self) -> list[int]:
        return [self.base_port + i for i in range(6)]

    def start_node(self, port: int) -> None:
        node_dir = self.workdir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        config = node_dir / "redis.conf"
        listen = f"port {port}\n"
        if self.tls_dir:
            listen = (
                f"port 0\ntls-port {port}\ntls-cluster yes\ntls-replication yes\ntls-auth-clients no\n"
                f"tls-cert-file {self.tls_dir}/node.crt\ntls-key-file {self.tls_dir}/node.key\n"
                f"tls-ca-cert-file {self.tls_dir}/ca.crt\n"
            )
        config.write_text(
            f"bind 127.0.0.1\n{listen}dir {node_dir}\ncluster-enabled yes\n"
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
        tls = {"ssl": True, "ssl_ca_certs": str(self.tls_dir / "ca.crt")} if self.tls_dir else {}
        return redis.Redis(host="127.0.0.1", port=port, password=ADMIN_PASSWORD, socket_timeout=2, **tls)

    def start(self) -> None:
        for port in self.ports:
            self.start_node(port)
        for port in self.ports:
            self.wait(lambda port=port: self.node(port).ping(), 10)
        tls = ["--tls", "--cacert", str(self.tls_dir / "ca.crt")] if self.tls_dir else []
        subprocess.run(
            ["redis-cli", *tls, "-a", ADMIN_PASSWORD, "--no-auth-warning", "--cluster", "create",
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

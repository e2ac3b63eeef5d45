# SPDX-License-Identifier: Apache-2.0
"""TLS helpers of Cachewright's modules: a client context, and the certificate a server serves.

A server has loaded new certificate files when the certificate it serves is the one in the
file: the modules compare the two fingerprints before and after a reload.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from typing import Any


def tls_client_argument_spec() -> dict[str, Any]:
    """The TLS options of the modules (documented in doc_fragments/cachewright_tls_client.py)."""
    return {
        "tls_ca_certificate": {"type": "path", "default": ""},
        "tls_certificate": {"type": "path", "default": ""},
        "tls_private_key": {"type": "path", "default": "", "no_log": False},
    }


def client_context(ca_certificate: str = "", certificate: str = "", private_key: str = "") -> ssl.SSLContext:
    """Checks the server against the CA; presents a certificate when one is given.

    Servers are reached by an address their certificate need not name (127.0.0.1 on the
    host itself, or an address announced after the certificate was made): the CA decides.
    Without a CA file nothing is checked: a probe of the host's own instance on 127.0.0.1.
    """
    context = ssl.create_default_context(cafile=ca_certificate or None)
    context.check_hostname = False
    if not ca_certificate:
        context.verify_mode = ssl.CERT_NONE
    if certificate:
        context.load_cert_chain(certificate, private_key or None)
    return context


def served_fingerprint(host: str, port: int, context: ssl.SSLContext, timeout: float = 5.0) -> str:
    """SHA-256 of the certificate the server on host:port presents."""
    with socket.create_connection((host, port), timeout=timeout) as raw, context.wrap_socket(raw) as stream:
        return hashlib.sha256(stream.getpeercert(binary_form=True) or b"").hexdigest()


def file_fingerprint(path: str) -> str:
    """SHA-256 of the (first) certificate in a PEM file."""
    with open(path, encoding="ascii") as stream:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(stream.read())).hexdigest()

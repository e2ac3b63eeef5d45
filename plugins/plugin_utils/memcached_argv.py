# SPDX-License-Identifier: Apache-2.0
"""What roles/memcached runs for an effective instance: memcached's command line, how its
modules reach the instance, and the RAM disk its warm-restart memory files need.

Tested by tests/test_memcached_filters.py.
"""

from __future__ import annotations

from typing import Any


def memcached_argv(inst: dict[str, Any], tls: dict[str, Any], warm_dir: str = "") -> list[str]:
    """memcached's command line for one effective instance (without the binary).

    With warm_dir and the instance's warm_restart, the cache lives in the memory file
    <warm_dir>/<name> (memcached -e), which a graceful stop (SIGUSR1) completes and the next
    start restores.
    """
    argv = [
        "-p", str(inst["port"]),
        "-U", "0",
        "-l", ",".join(inst["listen"]),
        "-m", str(inst["memory_mb"]),
        "-c", str(inst["max_connections"]),
        "-t", str(inst["threads"]),
        "-I", str(inst["max_item_size"]),
    ]  # fmt: skip
    if inst["tls"]:
        options = [f"ssl_chain_cert={tls['certificate']}", f"ssl_key={tls['private_key']}"]
        if tls.get("ca_certificate"):
            options.append(f"ssl_ca_cert={tls['ca_certificate']}")
        if tls.get("verify_clients"):
            options.append("ssl_verify_mode=2")
        options.append(f"ssl_min_version={ {'tlsv1.2': 2, 'tlsv1.3': 3}[tls['min_version']] }")
        argv += ["-Z", "-o", ",".join(options)]
    if inst["sasl"]:
        argv.append("-S")
    if warm_dir and inst.get("warm_restart"):
        argv += ["-e", f"{warm_dir}/{inst['name']}"]
    argv += [str(arg) for arg in inst["extra_args"]]
    return argv


def memcached_probe_endpoint(inst: dict[str, Any]) -> dict[str, Any]:
    """How the role's modules reach an instance on its own host: name, port, address, TLS, SASL."""
    return {
        "name": inst["name"],
        "port": inst["port"],
        "address": inst["listen"][0],
        "tls": inst["tls"],
        "sasl": inst["sasl"],
    }


def memcached_warm_size_mb(instances: list[dict[str, Any]]) -> int:
    """Size of the RAM disk holding the memory files: the memory_mb of every instance with
    warm restart, plus room for their small .meta files."""
    return sum(int(i["memory_mb"]) for i in instances if i.get("warm_restart")) + 16

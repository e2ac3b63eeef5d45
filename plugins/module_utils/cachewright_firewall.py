# SPDX-License-Identifier: Apache-2.0
"""The nftables table that keeps a host's cache ports to the hosts that need them.

Each role owns one table (``inet cachewright_<name>``) in a file of its own. The table has
one input chain: loopback is accepted, each rule's ports accept its sources, and every
other packet to those ports is dropped. Packets to other ports are left to the host's
other rules (the chain's policy is accept), so the table coexists with the host's own
firewall. The file replaces the table whole and atomically when nft loads it; the table's
comment carries a digest of the rendered file, which tells whether the live table is the
one the file describes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Callable, List, Union  # noqa: UP035 - evaluated at import, also on Python < 3.10 targets

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007
Resolver = Callable[[str], List[str]]  # noqa: UP006

TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# A host name as DNS or /etc/hosts spells it.
HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$")
DIGEST = re.compile(r'comment "cachewright_firewall ([0-9a-f]{64})"')


@dataclass(frozen=True)
class Rule:
    """Ports and the sources allowed to reach them; ``name`` is the inventory variable
    the sources come from, used in messages and in the rule's comment."""

    name: str
    ports: tuple[int, ...]
    sources: tuple[str, ...]


@dataclass
class Resolved:
    rule: Rule
    networks: list[Network] = field(default_factory=list)


def system_resolver(name: str) -> list[str]:
    """Every address a name has on this host (DNS, /etc/hosts), as the host's clients see them."""
    infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def rule_problems(rule: Rule) -> list[str]:
    """What is wrong with a rule's ports and sources, each naming its variable."""
    problems = []
    for port in rule.ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(f"{rule.name}: port {port!r} is not a TCP port (1-65535)")
    if not rule.ports:
        problems.append(f"{rule.name}: no port to open")
    for source in rule.sources:
        if not isinstance(source, str) or (_network(source) is None and not HOST_NAME.match(source)):
            problems.append(f"{rule.name}: {source!r} is not a host name, an address or a network")
    return problems


def _network(source: str) -> Network | None:
    try:
        return ipaddress.ip_network(source.strip(), strict=False)
    except ValueError:
        return None


def resolve(rules: Sequence[Rule], resolver: Resolver = system_resolver) -> tuple[list[Resolved], list[str]]:
    """Each rule's sources as networks (names looked up on this host), and the names that
    do not resolve, each naming its variable."""
    done, problems = [], []
    for rule in rules:
        networks: set[Network] = set()
        for source in rule.sources:
            network = _network(source)
            if network is not None:
                networks.add(network)
                continue
            try:
                found = resolver(source.rstrip("."))
            except (OSError, UnicodeError) as error:
                problems.append(f"{rule.name}: {source!r} does not resolve on this host ({error})")
                continue
            networks.update(ipaddress.ip_network(address.split("%")[0]) for address in found)
        done.append(Resolved(rule, sorted(networks, key=lambda n: (n.version, n))))
    return done, problems


def _ports(ports: Iterable[int]) -> str:
    listed = sorted(set(ports))
    return str(listed[0]) if len(listed) == 1 else "{ " + ", ".join(map(str, listed)) + " }"


def _addresses(networks: Iterable[Network]) -> str:
    return (
        "{ " + ", ".join(str(n) if n.num_addresses > 1 else str(n.network_address) for n in networks) + " }"
    )


def render(table: str, rules: Sequence[Resolved]) -> str:
    """The nft file that replaces table ``inet <table>`` whole; its comment holds the
    digest of the rest of the file."""
    lines = []
    for item in rules:
        ports = _ports(item.rule.ports)
        for version, family in ((4, "ip"), (6, "ip6")):
            networks = [n for n in item.networks if n.version == version]
            if networks:
                lines.append(
                    f"\t\ttcp dport {ports} {family} saddr {_addresses(networks)} accept"
                    f' comment "{item.rule.name}"'
                )
    every = [port for item in rules for port in item.rule.ports]
    closed = [f'\t\ttcp dport {_ports(every)} counter drop comment "every other source"'] if every else []
    body = "\n".join(
        [
            "\tchain input {",
            "\t\ttype filter hook input priority filter; policy accept;",
            '\t\tiif "lo" accept',
            *lines,
            *closed,
            "\t}",
        ]
    )
    digest = hashlib.sha256(f"{table}\n{body}".encode()).hexdigest()
    return "\n".join(
        [
            "#!/usr/sbin/nft -f",
            "# managed by Ansible (cachewright_firewall): these cache ports accept only the",
            "# sources below and drop every other packet; other ports are left to the host's",
            "# other rules. Loading this file replaces the table whole.",
            f"table inet {table} {{",
            "}",
            f"delete table inet {table}",
            f"table inet {table} {{",
            f'\tcomment "cachewright_firewall {digest}"',
            body,
            "}",
            "",
        ]
    )


def live_digest(listing: str) -> str | None:
    """The digest in the comment of a table as `nft list table` prints it."""
    found = DIGEST.search(listing)
    return found.group(1) if found else None


def include_line(path: str) -> str:
    return f'include "{path}"'


def with_include(text: str, path: str, present: bool) -> str:
    """The boot file's text with the table file's include line (appended when missing, where
    it is otherwise), or without it; other lines, other tables' includes too, stay as they are."""
    line = include_line(path)
    lines = text.splitlines()
    if present and line in (x.strip() for x in lines):
        return text
    kept = [x for x in lines if x.strip() != line] + ([line] if present else [])
    return "\n".join(kept) + "\n" if kept else ""

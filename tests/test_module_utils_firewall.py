# SPDX-License-Identifier: Apache-2.0
"""The nftables table of plugins/module_utils/cachewright_firewall.py: what it accepts, what it
drops, how it names bad input. The table is loaded by nft in the Molecule pool scenario and
the lab (tests/test_lab_main_job.py), where hosts that are not clients are kept out."""

from __future__ import annotations

import ipaddress

import pytest
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_firewall import (
    Rule,
    live_digest,
    render,
    resolve,
    rule_problems,
    with_include,
)

HOSTS = {"app-1": ["10.0.0.5"], "app-2": ["10.0.0.6", "fd00::6"], "redis-1": ["10.0.1.1"]}


def resolver(name: str) -> list[str]:
    if name not in HOSTS:
        raise OSError(-2, "Name or service not known")
    return HOSTS[name]


def rendered(*rules: Rule) -> str:
    resolved, problems = resolve(rules, resolver)
    assert not problems
    return render("cachewright_test", resolved)


def test_sources_accepted_on_their_ports_and_every_other_source_dropped() -> None:
    text = rendered(
        Rule("clients", (6379, 6380), ("app-1", "app-2", "10.9.0.0/16")),
        Rule("peers", (6379, 16379), ("redis-1",)),
    )
    assert "tcp dport { 6379, 6380 } ip saddr { 10.0.0.5, 10.0.0.6, 10.9.0.0/16 } accept" in text
    assert 'tcp dport { 6379, 6380 } ip6 saddr { fd00::6 } accept comment "clients"' in text
    assert 'tcp dport { 6379, 16379 } ip saddr { 10.0.1.1 } accept comment "peers"' in text
    # One drop after every accept, for every port of every rule; loopback first.
    lines = [line.strip() for line in text.splitlines()]
    drop = next(i for i, line in enumerate(lines) if line.endswith('drop comment "every other source"'))
    assert lines[drop].startswith("tcp dport { 6379, 6380, 16379 } counter drop")
    assert all(i < drop for i, line in enumerate(lines) if " accept" in line)
    assert lines.index('iif "lo" accept') < drop
    # Other ports are not the table's business.
    assert "policy accept;" in text


def test_the_file_replaces_the_table_whole_and_carries_its_digest() -> None:
    text = rendered(Rule("clients", (11211,), ("app-1",)))
    assert text.startswith("#!/usr/sbin/nft -f\n# managed by Ansible")
    assert "table inet cachewright_test {\n}\ndelete table inet cachewright_test\n" in text
    digest = live_digest(text)
    assert digest and len(digest) == 64
    # The same input gives the same file; another source another digest.
    assert rendered(Rule("clients", (11211,), ("app-1",))) == text
    assert live_digest(rendered(Rule("clients", (11211,), ("app-2",)))) != digest
    # nft lists the live table with the same comment.
    listing = f'table inet cachewright_test {{\n\tcomment "cachewright_firewall {digest}"\n\tchain input {{'
    assert live_digest(listing) == digest
    assert live_digest("table inet cachewright_test {\n}") is None


def test_a_rule_without_sources_keeps_its_ports_closed() -> None:
    text = rendered(Rule("clients", (11211,), ()), Rule("extra", (11212,), ()))
    assert " accept comment" not in text
    assert "tcp dport { 11211, 11212 } counter drop" in text


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (Rule("memcached_firewall_clients", (11211,), ("10.0.0.0/33",)), "'10.0.0.0/33' is not a host name"),
        (Rule("memcached_firewall_clients", (11211,), ("app 1",)), "'app 1' is not a host name"),
        (Rule("memcached_firewall_clients", (11211,), ("",)), "'' is not a host name"),
        (Rule("redis_server_firewall_clients", (0,), ()), "port 0 is not a TCP port"),
        (Rule("redis_server_firewall_clients", (True,), ()), "port True is not a TCP port"),
        (Rule("redis_server_firewall_clients", (), ()), "no port to open"),
    ],
)
def test_bad_input_is_named_by_its_variable(rule: Rule, problem: str) -> None:
    problems = rule_problems(rule)
    assert problems and problems[0].startswith(f"{rule.name}: ") and problem in problems[0], problems


def test_a_name_that_does_not_resolve_is_named_with_its_variable() -> None:
    _, problems = resolve([Rule("memcached_firewall_client_groups", (11211,), ("app-9", "app-1"))], resolver)
    assert problems == [
        "memcached_firewall_client_groups: 'app-9' does not resolve on this host"
        " ([Errno -2] Name or service not known)"
    ]


def test_addresses_and_networks_are_kept_as_given() -> None:
    resolved, _ = resolve([Rule("x", (1,), ("10.1.2.3", "10.1.0.0/16", "fd00::/64"))], resolver)
    assert resolved[0].networks == [
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("10.1.2.3/32"),
        ipaddress.ip_network("fd00::/64"),
    ]


def test_each_role_keeps_its_include_line_where_it_is() -> None:
    # Two roles' tables on one host (Redis and Sentinel): each run of either changes nothing.
    boot = "#!/usr/sbin/nft -f\n\nflush ruleset\n"
    redis, sentinel = (
        "/etc/nftables.d/cachewright_redis_server.nft",
        "/etc/nftables.d/cachewright_redis_sentinel.nft",
    )
    once = with_include(with_include(boot, redis, True), sentinel, True)
    assert once.endswith(f'include "{redis}"\ninclude "{sentinel}"\n')
    assert with_include(with_include(once, redis, True), sentinel, True) == once
    # Off, a role's line goes and the other's stays.
    assert with_include(once, redis, False) == with_include(boot, sentinel, True)
    assert with_include("", redis, False) == ""

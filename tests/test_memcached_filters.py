# SPDX-License-Identifier: Apache-2.0
"""plugins/plugin_utils/memcached_input.py: defaults, problems, argv."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import load_plugin

mc = load_plugin("plugins/plugin_utils/memcached_input.py")
mc_argv = load_plugin("plugins/plugin_utils/memcached_argv.py")

SETTINGS: dict[str, Any] = {
    "memcached_memory_percent": 50,
    "memcached_max_connections": 1024,
    "memcached_threads": 4,
    "memcached_max_item_size": "1m",
    "memcached_listen": ["127.0.0.1", "10.0.0.5"],
    "memcached_tls": False,
    "memcached_sasl": False,
    "memcached_disable_default_instance": True,
    "memcached_tls_certificate": "",
    "memcached_tls_private_key": "",
    "memcached_tls_ca_certificate": "",
    "memcached_tls_verify_clients": False,
    "memcached_sasl_users": [],
    "memcached_warm_restart": True,
}


def settings(**changes: Any) -> dict[str, Any]:
    return {**SETTINGS, **changes}


def test_memory_share_is_split_between_unsized_instances() -> None:
    instances = [
        {"name": "a", "port": 1},
        {"name": "b", "port": 2},
        {"name": "c", "port": 3, "memory_mb": 64},
    ]
    eff = mc.memcached_effective(instances, SETTINGS, 8000)
    assert [i["memory_mb"] for i in eff] == [2000, 2000, 64]
    assert eff[0]["threads"] == 4 and eff[0]["listen"] == ["127.0.0.1", "10.0.0.5"]


def test_instance_values_beat_defaults() -> None:
    eff = mc.memcached_effective(
        [{"name": "a", "port": 1, "threads": 2, "listen": ["10.1.1.1"]}], SETTINGS, 1000
    )
    assert eff[0]["threads"] == 2 and eff[0]["listen"] == ["10.1.1.1"]


def test_good_input_has_no_problems() -> None:
    assert mc.memcached_problems([{"name": "main", "port": 11211}], SETTINGS, 4096) == []


@pytest.mark.parametrize(
    ("instances", "changes", "expected"),
    [
        (
            [{"name": "a", "port": 1}, {"name": "b", "port": 1}],
            {},
            "memcached_instances[1].port: 1 is already used",
        ),
        (
            [{"name": "a", "port": 1}, {"name": "a", "port": 2}],
            {},
            "memcached_instances[1].name: 'a' is used twice",
        ),
        ([{"name": "Bad Name", "port": 1}], {}, "memcached_instances[0].name: 'Bad Name' is not a valid"),
        ([{"name": "a", "port": 70000}], {}, "memcached_instances[0].port: 70000 is not a TCP port"),
        (
            [{"name": "a", "port": 1, "memory_mb": 0}],
            {},
            "memcached_instances[0].memory_mb: 0 is not between 1 and 2147483647",
        ),
        ([{"name": "a", "port": 1, "memory_mb": 9000}], {}, "more than this host's 4096 MiB"),
        (
            [{"name": "a", "port": 1, "max_connections": 30, "threads": 8}],
            {},
            "memcached_instances[0].max_connections: 30 is too few for 8 threads",
        ),
        (
            [{"name": "a", "port": 1, "threads": "four"}],
            {},
            "memcached_instances[0].threads: 'four' is not an integer",
        ),
        (
            [{"name": "a", "port": 1}],
            {"memcached_threads": 128},
            "memcached_threads: 128 is not between 1 and 64",
        ),
        (
            [{"name": "a", "port": 1, "max_connections": 100000}],
            {},
            "memcached_instances[0].max_connections: 100000 is not between 1 and 65536",
        ),
        ([{"name": "a", "port": 1, "memory_mb": 8, "max_item_size": "8m"}], {}, "is over half of memory_mb"),
        ([{"name": "a", "port": 1, "max_item_size": "1g"}], {}, "is not a size like 1m"),
        ([{"name": "a", "port": 1, "max_item_size": "64k"}], {}, "'64k' is not a multiple of 512k"),
        ([{"name": "a", "port": 1, "max_item_size": "600k"}], {}, "'600k' is not a multiple of 512k"),
        (
            [{"name": "a", "port": 1, "tls": True}],
            {},
            "memcached_tls_certificate: required because TLS is on",
        ),
        (
            [{"name": "a", "port": 1}],
            {"memcached_sasl": True},
            "memcached_sasl_users: SASL is on but no user",
        ),
        (
            [{"name": "a", "port": 1}],
            {"memcached_sasl": True, "memcached_sasl_users": [{"name": "bad user", "password": "x"}]},
            "memcached_sasl_users[0].name",
        ),
        ([{"name": "a", "port": 11211}], {"memcached_disable_default_instance": False}, "Debian's own"),
        ([{"name": "a", "port": 1}], {"memcached_memory_percent": 0}, "memcached_memory_percent: 0"),
        ([], {}, "memcached_instances: the list is empty"),
        (
            [{"name": "a", "port": 1, "tls": True}],
            {
                "memcached_tls_certificate": "c",
                "memcached_tls_private_key": "k",
                "memcached_tls_verify_clients": True,
            },
            "memcached_tls_ca_certificate: required",
        ),
    ],
)
def test_bad_input_names_the_variable(
    instances: list[dict[str, Any]], changes: dict[str, Any], expected: str
) -> None:
    problems = mc.memcached_problems(instances, settings(**changes), 4096)
    assert any(expected in p for p in problems), problems


def test_argv_plain_instance_turns_udp_off() -> None:
    inst = mc.memcached_effective([{"name": "a", "port": 11311, "memory_mb": 128}], SETTINGS, 4096)[0]
    argv = mc_argv.memcached_argv(inst, {})
    assert argv[:4] == ["-p", "11311", "-U", "0"]
    assert "-l" in argv and argv[argv.index("-l") + 1] == "127.0.0.1,10.0.0.5"
    assert "-Z" not in argv and "-S" not in argv


def test_argv_tls_and_sasl() -> None:
    inst = mc.memcached_effective([{"name": "a", "port": 1, "tls": True, "sasl": True}], SETTINGS, 4096)[0]
    tls = {
        "certificate": "/c.crt",
        "private_key": "/c.key",
        "ca_certificate": "/ca.crt",
        "verify_clients": True,
        "min_version": "tlsv1.3",
    }
    argv = mc_argv.memcached_argv(inst, tls)
    options = argv[argv.index("-o") + 1]
    assert "-Z" in argv and "-S" in argv
    assert (
        options
        == "ssl_chain_cert=/c.crt,ssl_key=/c.key,ssl_ca_cert=/ca.crt,ssl_verify_mode=2,ssl_min_version=3"
    )


def test_size_parser() -> None:
    assert mc.size_to_bytes("1m") == 1048576
    assert mc.size_to_bytes("512k") == 524288
    assert mc.size_to_bytes("4096") == 4096
    assert mc.size_to_bytes("2g") is None


def test_warm_restart_keeps_the_cache_in_a_memory_file_of_the_ram_disk() -> None:
    big, small = mc.memcached_effective(
        [{"name": "pool", "port": 11211, "memory_mb": 128}, {"name": "tiny", "port": 11212, "memory_mb": 32}],
        settings(),
        4096,
    )
    # Below 48 MiB memcached cannot preallocate a page per slab class: no memory file.
    assert big["warm_restart"] and not small["warm_restart"]
    assert mc_argv.memcached_argv(big, {}, "/var/lib/memcached/warm")[-2:] == [
        "-e",
        "/var/lib/memcached/warm/pool",
    ]
    assert "-e" not in mc_argv.memcached_argv(small, {}, "/var/lib/memcached/warm")
    assert mc_argv.memcached_warm_size_mb([big, small]) == 128 + 16
    assert mc_argv.memcached_probe_endpoint(big) == {
        "name": "pool",
        "port": 11211,
        "address": "127.0.0.1",
        "tls": False,
        "sasl": False,
    }


def test_warm_restart_asked_of_a_small_instance_is_refused() -> None:
    found = mc.memcached_problems(
        [{"name": "tiny", "port": 11211, "memory_mb": 32, "warm_restart": True}], settings(), 4096
    )
    assert any("memcached_instances[0].warm_restart: needs memory_mb of at least 48" in p for p in found), (
        found
    )

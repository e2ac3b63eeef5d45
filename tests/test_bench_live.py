# SPDX-License-Identifier: Apache-2.0
"""``manage.py cachebench`` for real, about 15 s: a throw-away redis-server (plain port with
an ACL user, and a TLS port) and memcached on loopback, a Django project in a subprocess
(its own settings; this pytest process keeps its own), then the report of its JSON.

Proves the whole path: every layer runs (Django, raw redis-py/pymemcache, built-in
RedisCache, redis-benchmark with TLS and ACL), the connection is derived from the alias,
no password is recorded, only the bench's keys are deleted (the application's keys
stay), clear() is never called (a backend that raises on clear() is benchmarked too).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient

from conftest import require
from redis_cluster_fixture import make_tls_files

ROOT = Path(__file__).resolve().parent.parent

import cachewright_django  # noqa: E402
from cachewright_django.report import render as report  # noqa: E402

# The package this test imports: the bench process runs the same one.
PACKAGE_ROOT = Path(cachewright_django.__file__).resolve().parent.parent

PASSWORD = "test-only-bench-app-password"
require("redis-server", "memcached", "redis-benchmark")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Servers:
    redis_port: int
    tls_port: int
    memcached_port: int
    tls_dir: Path

    def redis(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.redis_port, db=db, username="app", password=PASSWORD)

    def memcached(self) -> MemcacheClient:
        return MemcacheClient(("127.0.0.1", self.memcached_port), timeout=2)


def wait_for(check, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    work = tmp_path_factory.mktemp("bench-servers")
    tls = make_tls_files(work / "tls")
    found = Servers(free_port(), free_port(), free_port(), tls)
    config = work / "redis.conf"
    config.write_text(
        f"bind 127.0.0.1\nport {found.redis_port}\ntls-port {found.tls_port}\n"
        f"tls-cert-file {tls}/node.crt\ntls-key-file {tls}/node.key\ntls-ca-cert-file {tls}/ca.crt\n"
        f'tls-auth-clients no\ndir {work}\nsave ""\nappendonly no\n'
        f"user default off\nuser app on >{PASSWORD} ~* &* +@all\n",
        encoding="utf-8",
    )
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    processes = [
        subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", str(config)], stdout=subprocess.DEVNULL
        ),
        subprocess.Popen(
            ["memcached", "-l", "127.0.0.1", "-p", str(found.memcached_port), "-U", "0", "-m", "64", *user],
            stdout=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_for(lambda: found.redis().ping())
        wait_for(lambda: found.memcached().version())
        yield found
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


SETTINGS = """
SECRET_KEY = "test-only"
USE_TZ = True
INSTALLED_APPS = ["cachewright_django"]
CACHES = {{
    "default": {{
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:{redis_port}/0",
        "KEY_PREFIX": "app",
        "OPTIONS": {{"USERNAME": "app", "PASSWORD": "{password}", "SOCKET_TIMEOUT": 2}},
    }},
    "secure": {{
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "rediss://app:{password}@127.0.0.1:{tls_port}/1",
        "KEY_PREFIX": "app",
        "OPTIONS": {{"CONNECTION_POOL_KWARGS": {{"ssl_ca_certs": "{ca}"}}}},
    }},
    "sessions": {{
        "BACKEND": "cachewright_django.memcached.LeanPyMemcacheCache",
        "LOCATION": "127.0.0.1:{memcached_port}",
    }},
    "libmc": {{
        "BACKEND": "django.core.cache.backends.memcached.PyLibMCCache",
        "LOCATION": "127.0.0.1:{memcached_port}",
        "OPTIONS": {{"binary": False, "behaviors": {{"tcp_nodelay": True}}}},
    }},
    "guarded": {{"BACKEND": "benchguard.GuardedLocMemCache", "OPTIONS": {{"MAX_ENTRIES": 100000}}}},
    "off": {{"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
}}
"""
GUARD = """
from django.core.cache.backends.locmem import LocMemCache


class GuardedLocMemCache(LocMemCache):
    def clear(self):
        raise AssertionError("cachebench called clear()")
"""


@pytest.fixture(scope="module")
def bench_run(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    project = tmp_path_factory.mktemp("bench-project")
    (project / "benchsettings.py").write_text(
        SETTINGS.format(
            redis_port=servers.redis_port, tls_port=servers.tls_port, memcached_port=servers.memcached_port,
            password=PASSWORD, ca=servers.tls_dir / "ca.crt",
        )
    )  # fmt: skip
    (project / "benchguard.py").write_text(GUARD)
    # The application's own data, which the bench must leave alone.
    for db in (0, 1):
        servers.redis(db).set("app:1:precious", "app data")
    servers.memcached().set("app:1:precious", b"app data")
    result_dir = project / "results" / "lab" / "20250101T000000Z"
    out = result_dir / "app1.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(project), str(PACKAGE_ROOT))),
        "DJANGO_SETTINGS_MODULE": "benchsettings",
    }
    argv = [
        sys.executable, "-m", "django", "cachebench", "--ops", "get,set", "--raw-ops", "get", "--keys", "500",
        "--duration", "0.2", "--warmup", "0.05", "--repetitions", "2", "--concurrency", "1,2x1",
        "--compare-builtin", "default",
        "--redis-benchmark-requests", "2000", "--placement", "test: client and servers on one VM",
        "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), result_dir, done.stdout + done.stderr


def layers(doc: dict, alias: str) -> set[str]:
    return {r["layer"] for r in doc["results"] if r["alias"] == alias}


def test_every_layer_ran_without_errors(bench_run):
    doc, _, output = bench_run
    assert doc["schema"] == "cachewright.cachebench/2"
    assert set(doc["aliases"]) == {"default", "secure", "sessions", "libmc", "guarded"}  # not the DummyCache
    assert layers(doc, "default") == {"django", "raw-redis-py", "builtin-redis", "redis-benchmark"}
    assert layers(doc, "secure") == {"django", "raw-redis-py", "redis-benchmark"}
    assert layers(doc, "sessions") == {"django", "raw-pymemcache"}
    # Each alias against the client library it uses: pylibmc's own client for PyLibMCCache.
    assert layers(doc, "libmc") == {"django", "raw-pylibmc"}
    assert doc["aliases"]["libmc"]["raw_target"]["library"] == "pylibmc"
    assert layers(doc, "guarded") == {"django"}
    for r in doc["results"]:
        assert r["errors"] == 0, (r["alias"], r["layer"], r["op"], r["first_error"])
        # Two repetitions of every measurement: the figure is their median, within their spread.
        assert r["repetitions"] == 2 and len(r["runs"]) == 2, r
        low, high = r["spread"]["ops_per_s"]
        assert low <= r["ops_per_s"] <= high
        assert r["ops_per_s"] > 0 and r["latency_us"]["p99"] > 0
        if r["layer"] != "redis-benchmark":
            assert r["latency_us"]["samples"] == r["calls"]
        if r["op"] == "get" and r["layer"] != "redis-benchmark":
            assert r["hit_ratio"] == 1.0, r
    assert {r["concurrency"] for r in doc["results"] if r["layer"] == "django"} == {"1x1", "2x1"}
    kinds = {(r["alias"], r["kind"]) for r in doc["ratios"] if r["op"] == "get"}
    expected = {("default", "ours/builtin")} | {
        (alias, "django/raw") for alias in ("default", "secure", "sessions", "libmc")
    }
    assert kinds == expected
    for ratio in doc["ratios"]:
        low, high = ratio["ratio_range"]
        assert ratio["pairs"] == 2 and low <= ratio["ratio"] <= high
    assert doc["notes"] == []
    assert doc["skipped"] == [
        {"alias": "guarded", "layer": "raw", "op": None, "reason": "no raw ceiling for a locmem backend"}
    ]
    assert "[1/" in output and " ops/s  p50 " in output  # progress lines on stderr
    assert "alias" in output and "vs raw" in output  # the summary table


def test_connection_derived_from_the_alias_and_no_password_recorded(bench_run, servers):
    doc, result_dir, _ = bench_run
    secure = doc["aliases"]["secure"]
    assert secure["tls"] is True
    primary = secure["raw_target"]["primary"]
    assert (primary["port"], primary["db"], primary["username"], primary["password_set"]) == (
        servers.tls_port, 1, "app", True,
    )  # fmt: skip
    assert primary["ca_certs"] == str(servers.tls_dir / "ca.crt")
    assert doc["aliases"]["default"]["tls"] is False
    assert doc["aliases"]["default"]["raw_target"]["parser"] == "_HiredisParser"
    command = next(
        r["command"] for r in doc["results"] if r["alias"] == "secure" and r["layer"] == "redis-benchmark"
    )
    for expected in (
        ["--tls"],
        ["--cacert", str(servers.tls_dir / "ca.crt")],
        ["--dbnum", "1"],
        ["--user", "app"],
    ):
        assert any(command[i : i + len(expected)] == expected for i in range(len(command))), (
            expected,
            command,
        )
    assert command[command.index("-a") + 1] == "***"
    text = (result_dir / "app1.json").read_text()
    assert PASSWORD not in text
    assert doc["environment"]["placement"] == "test: client and servers on one VM"
    assert doc["environment"]["hiredis_available"] is True


def test_the_server_behind_each_alias_is_named(bench_run):
    doc, _, output = bench_run
    redis_version = (
        subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True)
        .stdout.split("v=")[1]
        .split()[0]
    )
    memcached_version = subprocess.run(
        ["memcached", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    servers = {alias: info["server_software"] for alias, info in doc["aliases"].items()}
    assert servers == {
        "default": f"Redis {redis_version}",  # INFO server through the ACL user
        "secure": f"Redis {redis_version}",  # and through TLS
        "sessions": f"memcached {memcached_version}",
        "libmc": f"memcached {memcached_version}",
        "guarded": "local memory",
    }
    assert f"default: server Redis {redis_version}" in output


def test_only_the_bench_keys_were_deleted(bench_run, servers):
    for db in (0, 1):
        assert servers.redis(db).keys("*") == [b"app:1:precious"]
    stats = servers.memcached().stats()
    assert stats[b"curr_items"] == 1
    assert servers.memcached().get("app:1:precious") == b"app data"


def test_report_of_the_run(bench_run, tmp_path):
    _, result_dir, _ = bench_run
    assert report.main([str(result_dir), "--out", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 8
    assert "Placement: test: client and servers on one VM" in html

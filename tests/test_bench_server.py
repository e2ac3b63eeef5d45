# SPDX-License-Identifier: Apache-2.0
"""cachebench's server label of each alias: Valkey, Redis and memcached told apart from their
replies, one label per alias however many servers it reaches, errors recorded and never
fatal, and the label's way through the result JSON to the report's reader. No server is
needed: the servers that answer are fakes, the one that does not is a closed port."""

from __future__ import annotations

import json
from pathlib import Path

import django
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

if not settings.configured:  # the same configuration as tests/test_bench_raw.py
    settings.configure(CACHES={}, USE_TZ=True)
    django.setup()

from cachewright_django.bench import raw, schema, server  # noqa: E402
from cachewright_django.bench.suite import BenchOptions, Suite  # noqa: E402
from cachewright_django.bench.workload import Concurrency  # noqa: E402
from cachewright_django.report import resultset  # noqa: E402
from django.core.cache.backends.db import DatabaseCache  # noqa: E402
from django.core.cache.backends.filebased import FileBasedCache  # noqa: E402
from django.core.cache.backends.locmem import LocMemCache  # noqa: E402
from django.core.cache.backends.memcached import PyLibMCCache, PyMemcacheCache  # noqa: E402
from django_redis.cache import RedisCache  # noqa: E402
from redis._parsers.helpers import parse_info  # noqa: E402
from redis.exceptions import ConnectionError as RedisConnectionError  # noqa: E402

# INFO server as each server answers it (abridged), parsed the way redis-py parses it.
VALKEY_INFO = parse_info(
    "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\n"
    "valkey_release_stage:ga\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\nos:Linux\r\n"
)
REDIS_INFO = parse_info(
    "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\n"
    "os:Linux 6.1.0 x86_64\r\ntcp_port:6379\r\n"
)
# A port nothing listens on: the connection is refused at once.
CLOSED = "127.0.0.1:1"


# ---------------------------------------------------------------- labels


def test_valkey_is_labelled_with_its_own_version_not_the_compatible_redis_one():
    assert VALKEY_INFO["redis_version"] == "7.2.4"  # what a Redis-only reading would report
    assert server.redis_label(VALKEY_INFO) == "Valkey 8.1.1"


def test_redis_is_labelled_with_or_without_a_server_name():
    assert server.redis_label(REDIS_INFO) == "Redis 7.0.15"
    assert server.redis_label({"server_name": "redis", "redis_version": "8.0.2"}) == "Redis 8.0.2"
    assert server.redis_label({"redis_version": 8.0}) == "Redis 8.0"  # parse_info makes "8.0" a float


def test_other_or_incomplete_info_replies():
    assert server.redis_label({"server_name": "valkey"}) == "Valkey"  # no version given
    assert server.redis_label({"server_name": "keydb", "keydb_version": "6.3.4"}) == "keydb 6.3.4"
    assert server.redis_label({}) is None
    assert server.redis_label({"os": "Linux"}) is None


def test_memcached_label_from_the_version_reply():
    assert server.memcached_label(b"1.6.18") == "memcached 1.6.18"  # pymemcache's version()
    assert server.memcached_label("1.6.18\n") == "memcached 1.6.18"  # a stats value
    assert server.memcached_label(b"") is None
    assert server.memcached_label(None) is None


def test_labels_of_several_servers_are_joined_once_each():
    assert server.join_labels(["Redis 7.0.15", "Redis 7.0.15"]) == "Redis 7.0.15"
    assert (
        server.join_labels(["Redis 7.0.15", "Valkey 8.1.1", "Redis 7.0.15"]) == "Redis 7.0.15 + Valkey 8.1.1"
    )
    assert server.join_labels(["Valkey 8.1.1", None]) == "Valkey 8.1.1 + unknown"
    assert server.join_labels([None, None]) is None
    assert server.join_labels([]) is None


def test_caches_without_a_server_are_labelled_by_their_kind(tmp_path):
    assert server.alias_server(LocMemCache("server-test", {})) == ("local memory", [])
    assert server.alias_server(FileBasedCache(str(tmp_path), {})) == ("filesystem", [])
    assert server.alias_server(DatabaseCache("cache_table", {})) == ("database", [])
    assert server.alias_server(object()) == (None, [])


# ---------------------------------------------------------------- reading the servers


class FakeRedis:
    """A redis-py client answering INFO server as the server at its host would."""

    def __init__(self, replies, host, kwargs):
        self.reply, self.kwargs, self.closed = replies[host], kwargs, False

    def info(self, section):
        assert section == "server"
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply

    def close(self):
        self.closed = True


@pytest.fixture
def redis_replies(monkeypatch):
    """host -> INFO reply (or exception) of every client the label reads with."""
    replies: dict[str, object] = {}
    made: list[FakeRedis] = []

    def client(endpoint):
        made.append(FakeRedis(replies, endpoint.host, endpoint.kwargs))
        return made[-1]

    monkeypatch.setattr(raw.RedisEndpoint, "client", client)
    return replies, made


def test_every_server_of_a_replicated_alias_is_read_with_capped_timeouts(redis_replies):
    replies, made = redis_replies
    cache = RedisCache(
        ["redis://10.0.0.5:6379/0", "redis://10.0.0.6:6379/0"],
        {"OPTIONS": {"SOCKET_TIMEOUT": 30, "SOCKET_CONNECT_TIMEOUT": 1}},
    )
    replies.update({"10.0.0.5": REDIS_INFO, "10.0.0.6": REDIS_INFO})
    assert server.alias_server(cache) == ("Redis 7.0.15", [])
    assert len(made) == 2 and all(c.closed for c in made)
    assert [(c.kwargs["socket_timeout"], c.kwargs["socket_connect_timeout"]) for c in made] == [
        (5.0, 1.0)
    ] * 2
    replies["10.0.0.6"] = VALKEY_INFO  # a replica moved to Valkey
    assert server.alias_server(cache) == ("Redis 7.0.15 + Valkey 8.1.1", [])


def test_a_server_that_cannot_be_read_is_unknown_and_reported(redis_replies):
    replies, _ = redis_replies
    cache = RedisCache(["redis://10.0.0.5:6379/0", "redis://10.0.0.6:6379/0"], {})
    replies.update({"10.0.0.5": VALKEY_INFO, "10.0.0.6": RedisConnectionError("Error 111 connecting")})
    label, problems = server.alias_server(cache)
    assert label == "Valkey 8.1.1 + unknown"
    assert problems == ["10.0.0.6:6379: ConnectionError: Error 111 connecting"]
    replies["10.0.0.5"] = RedisConnectionError("NOPERM this user has no permissions to run 'info'")
    label, problems = server.alias_server(cache)
    assert label is None and len(problems) == 2


def test_a_closed_port_gives_no_label_and_no_exception():
    label, problems = server.alias_server(RedisCache(f"redis://{CLOSED}/0", {}))
    assert label is None
    assert len(problems) == 1 and problems[0].startswith(f"{CLOSED}: ConnectionError")
    label, problems = server.alias_server(PyMemcacheCache(CLOSED, {}))
    assert label is None
    assert len(problems) == 1 and problems[0].startswith(CLOSED)


def test_an_alias_without_a_target_reports_why():
    class Broken(RedisCache):
        @property
        def client(self):
            raise RedisConnectionError("no Sentinel answers")

    label, problems = server.alias_server(Broken("redis://10.0.0.5:6379/0", {}))
    assert label is None
    assert problems == ["deriving the connection failed: ConnectionError: no Sentinel answers"]


def test_every_node_of_a_cluster_is_read(monkeypatch):
    class Node:
        def __init__(self, host, reply):
            self.host, self.port, self.reply = host, 7000, reply

        def info(self, section):
            if isinstance(self.reply, Exception):
                raise self.reply
            return self.reply

    class FakeCluster:
        closed = False

        def __init__(self, nodes):
            self.nodes = nodes

        def get_nodes(self):
            return self.nodes

        def get_redis_connection(self, node):
            return node

        def close(self):
            FakeCluster.closed = True

    nodes = [Node("10.0.0.11", VALKEY_INFO), Node("10.0.0.12", VALKEY_INFO), Node("10.0.0.13", REDIS_INFO)]
    seen = []

    def cluster_client(target):
        seen.append(target.primary.kwargs)
        return FakeCluster(nodes)

    monkeypatch.setattr(raw.RedisTarget, "cluster_client", cluster_client)
    startup = raw.RedisEndpoint.from_kwargs({"host": "10.0.0.11", "port": 7000}, tls=False)
    target = raw.RedisTarget("cluster", [startup], [startup], "_HiredisParser")
    assert server.alias_server(RedisCache("redis://10.0.0.11:7000/0", {}), target) == (
        "Valkey 8.1.1 + Redis 7.0.15",
        [],
    )
    assert FakeCluster.closed and seen[0]["socket_connect_timeout"] == server.PROBE_TIMEOUT_S
    nodes[2].reply = RedisConnectionError("node down")
    assert server.alias_server(RedisCache("redis://10.0.0.11:7000/0", {}), target) == (
        "Valkey 8.1.1 + unknown",
        ["10.0.0.13:7000: ConnectionError: node down"],
    )


def test_memcached_servers_answer_version(monkeypatch):
    class FakeMemcache:
        def __init__(self, reply):
            self.reply = reply

        def version(self):
            if isinstance(self.reply, Exception):
                raise self.reply
            return self.reply

    class FakeHashClient:
        def __init__(self, clients):
            self.clients, self.closed = clients, False

        def close(self):
            self.closed = True

    made = []

    def client(target):
        made.append((target.kwargs, FakeHashClient(servers)))
        return made[-1][1]

    monkeypatch.setattr(raw.MemcachedTarget, "client", client)
    servers = {"10.0.0.6:11211": FakeMemcache(b"1.6.18"), "10.0.0.7:11211": FakeMemcache(b"1.6.18")}
    cache = PyMemcacheCache(["10.0.0.6:11211", "10.0.0.7:11211"], {"OPTIONS": {"connect_timeout": 2}})
    assert server.alias_server(cache) == ("memcached 1.6.18", [])
    kwargs, hash_client = made[0]
    assert (kwargs["connect_timeout"], kwargs["timeout"]) == (2.0, server.PROBE_TIMEOUT_S)
    assert hash_client.closed
    servers["10.0.0.7:11211"] = FakeMemcache(OSError("timed out"))
    assert server.alias_server(cache) == (
        "memcached 1.6.18 + unknown",
        ["10.0.0.7:11211: OSError: timed out"],
    )


def test_pylibmc_servers_answer_their_stats(monkeypatch):
    class FakeLibMC:
        def __init__(self, stats):
            self.stats = stats

        def get_stats(self):
            if isinstance(self.stats, Exception):
                raise self.stats
            return self.stats

        def disconnect_all(self):
            pass

    stats: list = [("10.0.0.6:11211 (0)", {"version": "1.6.21", "pid": "1"})]
    monkeypatch.setattr(raw.PyLibMCTarget, "client", lambda target: FakeLibMC(stats))
    cache = PyLibMCCache("10.0.0.6:11211", {})
    assert server.alias_server(cache) == ("memcached 1.6.21", [])
    stats = RuntimeError("error 47 from memcached_stat")
    label, problems = server.alias_server(cache)
    assert label is None and problems == ["10.0.0.6:11211: RuntimeError: error 47 from memcached_stat"]


# ---------------------------------------------------------------- the document


def bench(aliases: dict[str, object]) -> dict:
    options = BenchOptions(
        aliases=list(aliases),
        ops=["get"],
        keys=20,
        duration=0.05,
        warmup=0.0,
        concurrency=[Concurrency(1, 1)],
        raw=False,
        redis_benchmark=False,
        repetitions=1,
    )
    return Suite(options, get_cache=aliases.__getitem__, run_id="20250101T000000Z-srv001").run()


def test_the_run_records_each_alias_server_and_survives_an_unreadable_one():
    doc = bench({"local": LocMemCache("server-suite", {}), "down": RedisCache(f"redis://{CLOSED}/0", {})})
    assert doc["aliases"]["local"][schema.ALIAS_SERVER] == "local memory"
    assert doc["aliases"]["down"][schema.ALIAS_SERVER] is None
    assert any(n.startswith(f"down: could not read the server software: {CLOSED}") for n in doc["notes"])
    assert tuple(doc) == schema.KEYS
    assert [r["alias"] for r in doc["results"]] == ["local"]  # the down alias is skipped, not fatal


def test_the_label_survives_the_json_and_old_documents_read_as_unknown(tmp_path):
    doc = bench({"local": LocMemCache("server-round-trip", {})})
    doc["aliases"]["valkey"] = {"kind": "redis", schema.ALIAS_SERVER: "Valkey 8.1.1"}
    doc["aliases"]["unread"] = {"kind": "redis", schema.ALIAS_SERVER: None}
    run = tmp_path / "run"
    run.mkdir()
    (run / "app1.json").write_text(json.dumps(doc))
    read = resultset.load_run(run)
    host = read.hosts[0]
    assert read.servers() == {
        (host, "local"): "local memory",
        (host, "valkey"): "Valkey 8.1.1",
        (host, "unread"): None,
    }
    old = ROOT / "tests" / "data" / "bench" / "lab" / "20250101T000000Z"  # written before the label
    assert set(resultset.load_run(old).servers().values()) == {None}
    assert schema.alias_server({"kind": "redis"}) is None and schema.alias_server(None) is None


def test_hello_names_the_server_an_app_user_may_not_ask_info() -> None:
    class AppUser:
        """An ACL user with -@dangerous: INFO refused, HELLO allowed."""

        def execute_command(self, *args):
            assert args == ("HELLO", "2")
            return [b"server", b"valkey", b"version", b"8.0.1", b"proto", 2, b"role", b"master"]

        def info(self, section):
            raise AssertionError("INFO is not asked when HELLO answers")

    assert server.redis_server_label(AppUser()) == "Valkey 8.0.1"
    assert server.hello_label({"server": "redis", "version": "7.0.15"}) == "Redis 7.0.15"
    assert server.hello_label({}) is None

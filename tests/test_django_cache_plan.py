# SPDX-License-Identifier: Apache-2.0
"""roles/django_cache's settings plan: correct settings for today's libraries, clear errors."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from conftest import ROOT, load_plugin

plugin = load_plugin("plugins/plugin_utils/django_settings.py")

USERS = [{"name": "django", "password": "pw-django", "keys": ["django:*"]}]
SETTINGS: dict[str, Any] = {
    "key_prefix": "django",
    "sessions_alias": "",
    "session_engine": "auto",
    "media_root": "/srv/app/media",
    "static_root": "/srv/app/static",
    "databases": {"default": {}, "cachedb": {}},
    "tls": {
        "ca_bundle": "/etc/cw/ca.crt",
        "certificate": "/ctl/pki/app-client.crt",
        "certificate_dest": "/etc/cw/client.crt",
        "private_key_dest": "/etc/cw/client.key",
    },
}


def redis_hv(primary: str | None, tls: bool = False, **extra: Any) -> dict[str, Any]:
    replicaof = {"host": primary, "instance": "cache"} if primary else None
    return {
        "redis_server_tls": tls,
        "redis_server_tls_ca_certificate": "/ctl/pki/ca.crt" if tls else "",
        "redis_server_users": USERS,
        "redis_server_instances": [
            {"name": "cache", "port": 6379, "replicaof": replicaof},
            {"name": "sessions", "port": 6380, "purpose": "sessions"},
            {"name": "node", "port": 7000, "cluster_enabled": True},
        ],
        **extra,
    }


def inventory(tls: bool = False, sentinel: bool = False) -> tuple[dict[str, Any], dict[str, list[str]]]:
    monitors = [{"name": "mycache", "host": "r1", "instance": "cache"}] if sentinel else []
    extra = {"redis_sentinel_monitors": monitors, "redis_sentinel_password": "pw-sentinel"}
    hostvars = {
        "r1": redis_hv(None, tls, **extra),
        "r2": redis_hv("r1", tls, **extra),
        "m1": {
            "memcached_instances": [
                {"name": "pool", "port": 11211},
                {"name": "sec", "port": 11212, "tls": True},
            ]
        },
        "m2": {
            "memcached_instances": [
                {"name": "pool", "port": 11211},
                {"name": "sec", "port": 11212, "tls": True},
            ],
            "ansible_host": "10.0.0.8",
        },
        "s1": {"memcached_sasl": True, "memcached_sasl_users": [{"name": "mcuser", "password": "pw-mc"}]},
    }
    groups = {"redis": ["r1", "r2"], "memcached": ["m1", "m2"], "sasl": ["s1"], "empty": []}
    if sentinel:
        groups["redis_sentinel"] = ["r1", "r2"]
    return hostvars, groups


def plan(
    aliases: dict[str, Any], tls: bool = False, sentinel: bool = False, **settings: Any
) -> dict[str, Any]:
    hostvars, groups = inventory(tls, sentinel)
    aliases = {"default": {"backend": "locmem"}, **aliases}
    topology = plugin.django_cache_topology(aliases, hostvars, groups)
    return plugin.django_cache_plan(aliases, topology, {**SETTINGS, **settings})


def caches(aliases: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = plan(aliases, **kwargs)
    assert result["problems"] == []
    return result["caches"]


# What is generated ----------------------------------------------------------------------------
def test_replicas_primary_first_with_acl_user_and_timeouts() -> None:
    spec = {"backend": "redis", "group": "redis", "db": 3, "read_from_replicas": True}
    entry = caches({"c": spec})["c"]
    assert entry["LOCATION"] == ["redis://r1:6379/3", "redis://r2:6379/3"]
    assert entry["KEY_PREFIX"] == "django"
    options = entry["OPTIONS"]
    # clear()/keys() on the alias's keys only (SCAN + UNLINK): the ACL user has no @dangerous.
    assert options["CLIENT_CLASS"] == "cachewright_django.redis.DefaultClient"
    assert options["CONNECTION_POOL_KWARGS"]["username"] == "django"
    assert options["CONNECTION_POOL_KWARGS"]["password"] == "pw-django"
    assert isinstance(options["SOCKET_TIMEOUT"], float)
    assert "PARSER_CLASS" not in options  # redis-py 8 has no HiredisParser; it uses hiredis itself


def test_reads_go_to_the_primary_unless_asked() -> None:
    # Read-your-writes: a replica may not have a write made a moment ago.
    assert caches({"c": {"backend": "redis", "group": "redis"}})["c"]["LOCATION"] == "redis://r1:6379/0"
    sentinel = caches({"c": {"backend": "redis", "group": "redis"}}, sentinel=True)["c"]
    assert sentinel["LOCATION"] == ["redis://mycache/0"]  # no pool of replicas for the reads
    asked = caches({"c": {"backend": "redis", "group": "redis", "read_from_replicas": True}}, sentinel=True)
    assert asked["c"]["LOCATION"] == "redis://mycache/0"


def test_replica_reads_are_refused_for_the_sessions_alias() -> None:
    found = plan({"sessions": {"backend": "redis", "group": "redis", "read_from_replicas": True}})["problems"]
    assert any("alias 'sessions': read_from_replicas: it holds the sessions" in p for p in found), found


def test_tls_uses_rediss_ca_and_client_certificate() -> None:
    result = plan({"c": {"backend": "redis", "group": "redis"}}, tls=True)
    pool = result["caches"]["c"]["OPTIONS"]["CONNECTION_POOL_KWARGS"]
    assert result["caches"]["c"]["LOCATION"] == "rediss://r1:6379/0"
    assert pool["ssl_ca_certs"] == "/etc/cw/ca.crt"
    assert pool["ssl_certfile"] == "/etc/cw/client.crt"
    assert result["ca_files"] == ["/ctl/pki/ca.crt"]
    assert result["client_certificate"] is True


def test_sentinel_has_connection_factory_and_ssl_in_pool() -> None:
    result = plan({"c": {"backend": "redis", "group": "redis"}}, tls=True, sentinel=True)
    entry = result["caches"]["c"]
    assert entry["LOCATION"] == ["redis://mycache/0"]  # rediss:// fails through Sentinel
    options = entry["OPTIONS"]
    assert options["CLIENT_CLASS"] == "cachewright_django.redis.SentinelClient"
    assert options["CONNECTION_FACTORY"] == "cachewright_django.sentinel.SentinelConnectionFactory"
    assert options["SENTINELS"] == [("r1", 26379), ("r2", 26379)]
    assert options["SENTINEL_KWARGS"]["password"] == "pw-sentinel"
    assert options["CONNECTION_POOL_KWARGS"]["ssl"] is True


def test_cluster_uses_our_client_on_db_0() -> None:
    entry = caches({"c": {"backend": "redis", "group": "redis", "instance": "node"}})["c"]
    assert entry["OPTIONS"]["CLIENT_CLASS"] == "cachewright_django.redis_cluster.RedisClusterClient"
    assert entry["LOCATION"] == ["redis://r1:7000", "redis://r2:7000"]


def test_builtin_backend_takes_no_client_class() -> None:
    entry = caches({"c": {"backend": "redis", "group": "redis", "client": "django"}})["c"]
    # Django's RedisCache with a clear() on the alias's keys only.
    assert entry["BACKEND"] == "cachewright_django.redis.RedisCache"
    assert "CLIENT_CLASS" not in entry["OPTIONS"]
    assert entry["OPTIONS"]["username"] == "django"
    assert entry["LOCATION"] == "redis://r1:6379"  # db in OPTIONS only; reads on the primary


def test_compressor_and_serializer_bring_their_packages() -> None:
    result = plan(
        {"c": {"backend": "redis", "group": "redis", "compressor": "zstd", "serializer": "msgpack"}}
    )
    options = result["caches"]["c"]["OPTIONS"]
    assert options["COMPRESSOR"] == "django_redis.compressors.zstd.ZStdCompressor"
    assert options["SERIALIZER"] == "django_redis.serializers.msgpack.MSGPackSerializer"
    assert result["packages"] == ["msgpack", "pyzstd"]


def test_pymemcache_pooled_without_python_memcached_options() -> None:
    entry = caches({"m": {"backend": "memcached", "group": "memcached", "ignore_exceptions": True}})["m"]
    assert entry["LOCATION"] == ["m1:11211", "10.0.0.8:11211"]
    assert entry["OPTIONS"]["use_pooling"] is True and entry["OPTIONS"]["max_pool_size"] == 4
    assert entry["OPTIONS"]["ignore_exc"] is True
    assert "server_max_value_length" not in entry["OPTIONS"]


def test_pymemcache_tls_uses_our_tls_backend() -> None:
    entry = caches({"m": {"backend": "memcached", "group": "memcached", "instance": "sec"}})["m"]
    assert entry["BACKEND"] == "cachewright_django.memcached.PyMemcacheTLSCache"
    assert entry["OPTIONS"]["tls"]["ca_certs"] == "/etc/cw/ca.crt"


def test_pylibmc_takes_only_binary_and_behaviors() -> None:
    entry = caches({"m": {"backend": "memcached", "group": "memcached", "client": "pylibmc"}})["m"]
    # Text protocol unless SASL needs binary: binary touch() stalls 5 s with pylibmc 1.6.3's libmemcached.
    assert entry["OPTIONS"] == {"binary": False, "behaviors": {"tcp_nodelay": True, "ketama": True}}


def test_pylibmc_sasl_user_speaks_binary() -> None:
    entry = caches({"m": {"backend": "memcached", "group": "sasl", "client": "pylibmc"}})["m"]
    assert entry["OPTIONS"]["username"] == "mcuser"
    assert entry["OPTIONS"]["binary"] is True


def test_database_table_is_location_and_tables_listed() -> None:
    result = plan(
        {
            "a": {"backend": "database", "table": "a_cache", "max_entries": 10, "cull_frequency": 2},
            "b": {"backend": "database", "table": "b_cache", "database": "cachedb"},
        }
    )
    assert result["caches"]["a"]["LOCATION"] == "a_cache"
    assert result["caches"]["a"]["OPTIONS"] == {"MAX_ENTRIES": 10, "CULL_FREQUENCY": 2}
    assert "db_table" not in result["caches"]["a"].get("OPTIONS", {})
    assert [(t["table"], t["database"]) for t in result["tables"]] == [
        ("a_cache", "default"),
        ("b_cache", "cachedb"),
    ]


def test_file_cache_directory() -> None:
    result = plan({"f": {"backend": "file", "path": "/var/cache/app/pages/"}})
    assert result["caches"]["f"]["LOCATION"] == "/var/cache/app/pages"
    assert result["dirs"] == ["/var/cache/app/pages"]


def test_tiered_backend_options() -> None:
    entry = caches({"hot": {"backend": "locmem"}, "t": {"backend": "tiered", "tiers": ["hot", "default"]}})[
        "t"
    ]
    assert entry["BACKEND"] == "cachewright_django.tiered.TieredCache"
    assert entry["OPTIONS"]["TIERS"] == ["hot", "default"]


@pytest.mark.parametrize(
    ("spec", "engine"),
    [
        ({"backend": "redis", "group": "redis", "instance": "sessions"}, "cache"),  # appendonly instance
        (
            {"backend": "redis", "group": "redis", "instance": "sessions", "ignore_exceptions": True},
            "cached_db",
        ),
        ({"backend": "redis", "group": "redis"}, "cached_db"),  # not persistent
        ({"backend": "locmem"}, "cached_db"),
    ],
)
def test_session_engine(spec: dict[str, Any], engine: str) -> None:
    result = plan({"sessions": spec})
    assert result["session"] == {
        "SESSION_ENGINE": f"django.contrib.sessions.backends.{engine}",
        "SESSION_CACHE_ALIAS": "sessions",
    }


@pytest.mark.live  # starts a program
def test_module_disable_switch_turns_every_alias_into_dummy(tmp_path: Any) -> None:
    result = plan({"c": {"backend": "redis", "group": "redis"}})
    (tmp_path / "cache_settings.py").write_text(
        plugin.django_cache_module(result, {"disable_env": "DISABLE_CACHE", "secrets": "inline"})
    )
    code = (
        "import cache_settings as s; "
        "print(sorted({c['BACKEND'] for c in s.CACHES.values()}), sorted(s.CACHES))"
    )
    for value, backends in (("1", "['django.core.cache.backends.dummy.DummyCache']"), ("", "django_redis")):
        env = {**os.environ, "DISABLE_CACHE": value, "PYTHONPATH": str(tmp_path)}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert backends in out.stdout and "['c', 'default']" in out.stdout


SHOW = "import json, cache_settings as s; print(json.dumps(s.CACHES, sort_keys=True))"


def load(directory: Any, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(directory), **(extra_env or {})}
    return subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=False)


@pytest.mark.live  # starts a program
def test_each_secrets_mode_loads_the_same_caches_and_only_inline_holds_a_password(tmp_path: Any) -> None:
    result = plan(
        {"c": {"backend": "redis", "group": "redis"}, "s": {"backend": "redis", "instance": "sessions"}}
    )
    secrets = plugin.django_cache_secrets(result)
    assert secrets and all("password" in name for name in secrets), secrets
    want = json.dumps(result["caches"], sort_keys=True)
    for mode in ("inline", "files", "env"):
        directory = tmp_path / mode
        directory.mkdir()
        text = plugin.django_cache_module(result, {"secrets": mode, "secrets_env_prefix": "CW_TEST_"})
        (directory / "cache_settings.py").write_text(text)
        assert any(value in text for value in secrets.values()) == (mode == "inline"), mode
        env = {}
        if mode == "files":
            (directory / "cache_settings.secrets").mkdir()
            for name, value in secrets.items():
                (directory / "cache_settings.secrets" / name).write_text(value + "\n")
        if mode == "env":
            env = {f"CW_TEST_{name.upper()}": value for name, value in secrets.items()}
        done = load(directory, env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == want, mode
    # A copy of the module without its passwords does not load, and says where they were looked for.
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    (elsewhere / "cache_settings.py").write_text((tmp_path / "files" / "cache_settings.py").read_text())
    assert "cache_settings.secrets" in load(elsewhere).stderr
    (elsewhere / "cache_settings.py").write_text((tmp_path / "env" / "cache_settings.py").read_text())
    assert "CW_TEST_" in load(elsewhere).stderr and "is not in the environment" in load(elsewhere).stderr


LOGIN = """
import django, sys
from importlib import import_module
from django.conf import settings
import cache_settings as s
settings.configure(
    CACHES=s.CACHES, SESSION_ENGINE=s.SESSION_ENGINE, SESSION_CACHE_ALIAS=s.SESSION_CACHE_ALIAS,
    INSTALLED_APPS=["django.contrib.sessions"], USE_TZ=True, SECRET_KEY="test-only-not-a-secret",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
)
django.setup()
from django.core.management import call_command
call_command("migrate", "sessions", verbosity=0)
engine = import_module(settings.SESSION_ENGINE)
session = engine.SessionStore()
session["user_id"] = 42  # a login
session.save()
print(settings.SESSION_ENGINE, engine.SessionStore(session_key=session.session_key).get("user_id"))
"""


@pytest.mark.live  # starts a program
def test_disable_switch_keeps_sessions_in_the_database(tmp_path: Any) -> None:
    # A sessions alias on a persistent Redis: SESSION_ENGINE cache, as long as caching is on.
    result = plan({"sessions": {"backend": "redis", "group": "redis", "instance": "sessions"}})
    assert result["session"]["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    (tmp_path / "cache_settings.py").write_text(
        plugin.django_cache_module(result, {"disable_env": "DISABLE_CACHE", "secrets": "inline"})
    )
    env = {**os.environ, "DISABLE_CACHE": "1", "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", LOGIN, str(tmp_path / "db.sqlite3")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.stdout.split() == ["django.contrib.sessions.backends.db", "42"], out.stdout + out.stderr


ROUTED = """
import json, sqlite3, sys
import django
from django.conf import settings
import cache_settings as s
folder, routed = sys.argv[1], sys.argv[2] == "routed"
settings.configure(
    CACHES=s.CACHES, USE_TZ=True, DATABASE_ROUTERS=s.DATABASE_ROUTERS if routed else [],
    CACHEWRIGHT_CACHE_DATABASES=s.CACHEWRIGHT_CACHE_DATABASES,
    DATABASES={
        db: {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{folder}/{db}.sqlite3"}
        for db in ("default", "cachedb")
    },
)
django.setup()
from django.core.management import call_command
from cachewright_django import roundtrip
for db in settings.DATABASES:
    call_command("createcachetable", database=db, verbosity=0)
tables = {
    db: sorted(row[0] for row in sqlite3.connect(f"{folder}/{db}.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE name LIKE '%_cache'"))
    for db in settings.DATABASES
}
results = {r["alias"]: r.get("error") or r["ops"][-1] for r in roundtrip.run(["a", "b"])}
print(json.dumps({"tables": tables, "results": results}))
"""


@pytest.mark.live  # starts a program
@pytest.mark.parametrize("routed", [True, False])
def test_database_aliases_use_their_own_database(tmp_path: Any, routed: bool) -> None:
    result = plan(
        {
            "a": {"backend": "database", "table": "a_cache"},
            "b": {"backend": "database", "table": "b_cache", "database": "cachedb"},
        }
    )
    module = plugin.django_cache_module(result, {})
    assert "DATABASE_ROUTERS = list(CACHEWRIGHT_DATABASE_ROUTERS)" in module
    (tmp_path / "cache_settings.py").write_text(module)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", ROUTED, str(tmp_path), "routed" if routed else "unrouted"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    if routed:
        # createcachetable makes each table on its database only; reads and writes go there.
        assert seen["tables"] == {"default": ["a_cache"], "cachedb": ["b_cache"]}
        assert seen["results"] == {"a": "own database", "b": "own database"}
    else:
        # What Django does with no router: the table on every database, every query on default.
        assert seen["tables"] == {"default": ["a_cache", "b_cache"], "cachedb": ["a_cache", "b_cache"]}
        assert seen["results"]["a"] == "own database"
        assert seen["results"]["b"].startswith(
            "RoundTripError: databases holding the new row of table 'b_cache': "
            "got ['default'], expected ['cachedb']"
        )


def test_no_database_alias_no_router() -> None:
    module = plugin.django_cache_module(plan({}), {})
    assert "CACHEWRIGHT_DATABASE_ROUTERS: list[str] = []" in module
    assert "DATABASE_ROUTERS =" not in module.replace("CACHEWRIGHT_DATABASE_ROUTERS", "")


def test_pins_come_from_requirements() -> None:
    text = (ROOT / "requirements.txt").read_text()
    assert plugin.django_cache_pins(text, ["Django", "django-redis"])[0].startswith("Django==")
    with pytest.raises(ValueError, match="no pin for nosuchpackage"):
        plugin.django_cache_pins(text, ["nosuchpackage"])


# What is refused ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("aliases", "kwargs", "message"),
    [
        (
            {"c": {"backend": "redis", "group": "nosuch"}},
            {},
            "alias 'c': group 'nosuch' is not in the inventory",
        ),
        ({"c": {"backend": "redis", "group": "empty"}}, {}, "group 'empty' has no hosts"),
        ({"c": {"backend": "redis", "group": "redis", "instance": "nope"}}, {}, "no redis instance 'nope'"),
        ({"c": {"backend": "redis", "group": "redis", "tls": True}}, {}, "tls: true, but instance 'cache'"),
        ({"m": {"backend": "memcached", "group": "memcached", "tls": True}}, {}, "has no TLS"),
        ({"f": {"backend": "file", "path": "/srv/app/media/cache"}}, {}, "overlaps MEDIA_ROOT"),
        ({"f": {"backend": "file", "path": "/srv/app/static"}}, {}, "overlaps STATIC_ROOT"),
        ({"f": {"backend": "file", "path": "relative/dir"}}, {}, "absolute `path:`"),
        ({"t": {"backend": "tiered", "tiers": ["t", "default"]}}, {}, "cannot be one of its own tiers"),
        (
            {"t": {"backend": "tiered", "tiers": ["default", "ghost"]}},
            {},
            "tier 'ghost' is not a declared alias",
        ),
        ({"t": {"backend": "tiered", "tiers": ["default"]}}, {}, "at least two other aliases"),
        (
            {"a": {"backend": "redis", "group": "redis"}, "b": {"backend": "redis", "group": "redis"}},
            {},
            "alias 'b': shares db 0 of instance 'cache' with alias 'a'",
        ),
        (
            {"c": {"backend": "redis", "group": "redis", "key_prefix": "other"}},
            {},
            "outside ACL user 'django'",
        ),
        ({"c": {"backend": "redis", "group": "redis", "user": "ghost"}}, {}, "ACL user 'ghost' is not in"),
        (
            {"c": {"backend": "redis", "group": "redis", "client": "django"}},
            {"sentinel": True},
            "no sentinel support",
        ),
        ({"c": {"backend": "redis", "group": "redis", "instance": "node", "db": 1}}, {}, "only database 0"),
        ({"c": {"backend": "redis", "group": "redis", "compressor": "brotli"}}, {}, "compressor 'brotli'"),
        ({"m": {"backend": "memcached", "group": "sasl"}}, {}, "uses SASL, which pymemcache lacks"),
        (
            {"m": {"backend": "memcached", "group": "memcached", "instance": "sec", "client": "pylibmc"}},
            {},
            "TLS",
        ),
        (
            {"d": {"backend": "database", "table": "x", "database": "nodb"}},
            {},
            "database 'nodb' is not in DATABASES",
        ),
        (
            {
                "d": {"backend": "database", "table": "x_cache"},
                "e": {"backend": "database", "table": "x_cache", "database": "cachedb"},
            },
            {},
            "table 'x_cache' is already the table of alias 'd' (database 'default')",
        ),
        ({"x": {"backend": "mongo"}}, {}, "backend 'mongo' is not one of"),
        (
            {"c": {"backend": "redis", "group": "redis", "timeout": -5}},
            {},
            "alias 'c': timeout -5 is not between 0 and 315360000 (django_cache_aliases.c.timeout)",
        ),
        (
            {"d": {"backend": "database", "table": "x_cache", "max_entries": -1}},
            {},
            "alias 'd': max_entries -1 is not between 1 and 2147483647 (django_cache_aliases.d.max_entries)",
        ),
        (
            {"m": {"backend": "memcached", "group": "memcached", "socket_timeout": "1s"}},
            {},
            "socket_timeout '1s' is not a number (django_cache_aliases.m.socket_timeout)",
        ),
        ({"l": {"backend": "locmem", "version": True}}, {}, "version True is not an integer"),
        ({"l": {"backend": "locmem", "cull_frequency": 2.5}}, {}, "cull_frequency 2.5 is not an integer"),
        (
            {"t": {"backend": "tiered", "tiers": ["default", "default"], "timeouts": [60, -1]}},
            {},
            "timeouts[1] -1 is not between 0 and 315360000 (django_cache_aliases.t.timeouts)",
        ),
        (
            {"c": {"backend": "redis", "group": "redis", "topology": "replica"}},
            {},
            "topology 'replica' is not one of",
        ),
        ({False: {"backend": "dummy"}}, {}, "alias name False is not a string"),
    ],
)
def test_bad_declarations_are_named(aliases: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    problems = plan(copy.deepcopy(aliases), **kwargs)["problems"]
    assert any(message in p for p in problems), problems


def test_timeouts_none_and_zero_and_cull_everything_are_accepted() -> None:
    entries = caches(
        {
            "forever": {"backend": "locmem", "timeout": None},
            "never": {"backend": "locmem", "timeout": 0, "cull_frequency": 0, "max_entries": None},
            "float": {"backend": "redis", "group": "redis", "timeout": 0.5, "socket_timeout": 0.25},
        }
    )
    assert entries["forever"]["TIMEOUT"] is None and entries["never"]["TIMEOUT"] == 0
    assert entries["never"]["OPTIONS"] == {"CULL_FREQUENCY": 0}


def test_no_default_alias() -> None:
    result = plugin.django_cache_plan({"x": {"backend": "locmem"}}, {"redis": {}, "memcached": {}}, SETTINGS)
    assert result["problems"] == ["django_cache_aliases has no 'default' alias (Django requires one)"]


def test_client_certificate_required_but_missing() -> None:
    hostvars, groups = inventory(tls=True)
    for host in ("r1", "r2"):
        hostvars[host]["redis_server_tls_auth_clients"] = "yes"
    aliases = {"default": {"backend": "redis", "group": "redis"}}
    settings = {**SETTINGS, "tls": {**SETTINGS["tls"], "certificate": ""}}
    result = plugin.django_cache_plan(
        aliases, plugin.django_cache_topology(aliases, hostvars, groups), settings
    )
    assert any("require client certificates" in p for p in result["problems"])

# SPDX-License-Identifier: Apache-2.0
"""roles/django_cache's settings plan on generated declarations (hypothesis).

Whatever the inventory says, the plan either refuses it - every problem naming the alias or
the variable - or gives a settings module that Python loads and Django builds every cache
from (backends, clients, serializers, compressors and options, without connecting).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from test_django_cache_plan import SETTINGS, inventory, plugin

if not django_settings.configured:
    django_settings.configure(CACHES={}, USE_TZ=True)

from django.core.cache import caches
from django.test.utils import override_settings

# Real TLS files where the settings point: the memcached TLS clients load them when built.
TLS = Path(tempfile.mkdtemp(prefix="cw-props-"))
# Where the generated modules read their passwords from (django_cache_secrets: files).
SECRETS = Path(tempfile.mkdtemp(prefix="cw-props-secrets-"))
subprocess.run(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-only",
     "-keyout", str(TLS / "client.key"), "-out", str(TLS / "client.crt")],
    check=True, capture_output=True,
)  # fmt: skip
(TLS / "ca.crt").write_bytes((TLS / "client.crt").read_bytes())
PLAN_SETTINGS = {
    **SETTINGS,
    "tls": {
        **SETTINGS["tls"],
        "ca_bundle": str(TLS / "ca.crt"),
        "certificate_dest": str(TLS / "client.crt"),
        "private_key_dest": str(TLS / "client.key"),
    },
}
NAMES = ("default", "a", "b", "sessions", "t")
# Numbers as a typo may give them (negative, huge, fractional, text, booleans), among the
# usual ones: most declarations are right, and those must load.
typos = st.one_of(
    st.booleans(),
    st.integers(-(2**40), -1),
    st.integers(2**40, 2**41),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1", "ten", ""]),
)


def number(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # About one number in ten is a typo.
    return st.integers(0, 9).flatmap(lambda n: typos if n == 0 else valid)


counts = number(st.integers(1, 100000))
seconds = number(st.one_of(st.integers(1, 3600), st.floats(0.01, 300)))
common = {
    "timeout": number(st.one_of(st.none(), st.integers(0, 86400), st.floats(0, 86400))),
    "version": number(st.integers(1, 100)),
    "key_prefix": st.sampled_from(["django", "django", "other"]),
}
by_backend: dict[str, dict[str, Any]] = {
    "redis": {
        "group": st.sampled_from(["redis", "redis", "redis", "memcached", "empty"]),
        "instance": st.sampled_from(["cache", "sessions", "node", "missing"]),
        "db": number(st.integers(0, 15)),
        "client": st.sampled_from(["django-redis", "django", "other"]),
        "compressor": st.sampled_from(["zlib", "lz4", "zstd", "brotli"]),
        "serializer": st.sampled_from(["pickle", "json", "msgpack", "yaml"]),
        "max_connections": counts,
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        "ignore_exceptions": st.booleans(),
        "read_from_replicas": st.booleans(),
    },
    "memcached": {
        "group": st.sampled_from(["memcached", "memcached", "memcached", "sasl", "empty"]),
        "instance": st.sampled_from(["pool", "sec", "missing"]),
        "client": st.sampled_from(["pymemcache", "pylibmc", "other"]),
        "max_pool_size": counts,
        "socket_timeout": seconds,
        "ignore_exceptions": st.booleans(),
    },
    "database": {
        "table": st.sampled_from(["api_cache", "b_cache", "c_cache", "bad table"]),
        "database": st.sampled_from(["default", "cachedb", "nodb"]),
        "max_entries": counts,
        "cull_frequency": number(st.integers(0, 10)),
    },
    "file": {
        "path": st.sampled_from(["/var/cache/app/a", "/var/cache/app/b", "relative", "/srv/app/media/c"]),
        "max_entries": counts,
    },
    "locmem": {"max_entries": counts, "cull_frequency": number(st.integers(0, 10))},
    "dummy": {},
    "tiered": {
        "tiers": st.lists(st.sampled_from(NAMES), min_size=2, max_size=3, unique=True),
        "timeouts": st.one_of(st.none(), st.lists(number(st.integers(0, 3600)), max_size=3)),
        "write_to": st.sampled_from(["all", "default", "a", "nowhere"]),
    },
}


@st.composite
def declaration(draw: st.DrawFn) -> dict[str, Any]:
    backend = draw(st.sampled_from([*by_backend, *by_backend, "mongo"]))
    keys = {**common, **by_backend.get(backend, {})}
    required = {"group", "table", "path", "tiers"} & set(keys)
    chosen = draw(st.lists(st.sampled_from(sorted(keys)), unique=True, max_size=4))
    return {"backend": backend, **{key: draw(keys[key]) for key in {*chosen, *required}}}


# Django requires a "default" alias: it is always declared (refusing its absence is tested
# in test_django_cache_plan.py).
aliases = st.builds(
    lambda default, others: {"default": default, **others},
    declaration(),
    st.dictionaries(st.sampled_from(NAMES[1:]), declaration(), max_size=3),
)


def named(problem: str) -> bool:
    return problem.startswith(("alias ", "django_cache_aliases"))


# The same examples on every run (CI must not turn red at random); CW_EXAMPLES=5000 looks further.
EXAMPLES = int(os.environ.get("CW_EXAMPLES", "1000"))


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(declared=aliases, sentinel=st.booleans(), tls=st.booleans())
def test_refused_with_a_name_or_loaded_by_django(declared: dict[str, Any], sentinel: bool, tls: bool) -> None:
    hostvars, groups = inventory(tls, sentinel)
    topology = plugin.django_cache_topology(declared, hostvars, groups)
    result = plugin.django_cache_plan(declared, topology, PLAN_SETTINGS)
    event("refused" if result["problems"] else "loaded")
    if result["problems"]:
        assert all(named(p) for p in result["problems"]), result["problems"]
        return
    # The passwords in files, as the role writes them; the module reads them back.
    for name, value in plugin.django_cache_secrets(result).items():
        (SECRETS / name).write_text(value, encoding="utf-8")
    module: dict[str, Any] = {}
    text = plugin.django_cache_module(result, {"disable_env": "DISABLE_CACHE", "secrets_dir": str(SECRETS)})
    exec(compile(text, "m", "exec"), module)
    # The module writes tuples (Sentinel addresses) as lists: the same once JSON.
    assert json.dumps(module["CACHES"], sort_keys=True) == json.dumps(result["caches"], sort_keys=True)
    with override_settings(CACHES=module["CACHES"]):
        for alias in module["CACHES"]:
            cache = caches[alias]
            # The client objects: django-redis's client class with its serializer and
            # compressor, pymemcache's and pylibmc's clients with their options.
            for attribute in ("client", "_cache"):
                if attribute in type(cache).__dict__ or hasattr(type(cache), attribute):
                    getattr(cache, attribute)

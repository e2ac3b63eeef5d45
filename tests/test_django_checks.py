# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.checks: the system checks name a wrong setting at start-up.

Each case gives the checks a settings mapping; the last cases run ``django-admin check`` in a
fresh process, where the checks are registered by the app (``cachewright_django`` in
INSTALLED_APPS) and a wrong tier stops the command before any request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cachewright_django import checks

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def tiered(**options: Any) -> dict[str, Any]:
    return {
        "hot": {"BACKEND": LOCMEM},
        "warm": {"BACKEND": LOCMEM},
        "tiered": {"BACKEND": checks.TIERED, "OPTIONS": {"TIERS": ["hot", "warm"], **options}},
    }


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def test_a_good_tiered_alias_passes() -> None:
    assert checks.check_tiered(tiered(TIMEOUTS=[60, None], WRITE_TO="warm")) == []


@pytest.mark.parametrize(
    ("options", "wanted", "words"),
    [
        ({"TIERS": ["hot"]}, "cachewright.E001", "two or more"),
        ({"TIERS": "hot,warm"}, "cachewright.E001", "two or more"),
        ({"TIERS": ["hot", "wram"]}, "cachewright.E002", 'names "wram", which is not an alias'),
        ({"TIMEOUTS": [60]}, "cachewright.E004", "one number of seconds (or None) per tier: 2"),
        ({"TIMEOUTS": [60, "300"]}, "cachewright.E004", "TIMEOUTS"),
        ({"WRITE_TO": "cold"}, "cachewright.E005", "WRITE_TO\"] is 'cold'"),
    ],
)
def test_a_wrong_tiered_option_is_named(options: dict[str, Any], wanted: str, words: str) -> None:
    found = checks.check_tiered(tiered(**options))
    assert ids(found) == [wanted]
    assert 'CACHES["tiered"]' in found[0].msg and words in found[0].msg


def test_tiers_that_lead_back_to_the_alias_are_a_loop() -> None:
    caches = {
        "hot": {"BACKEND": LOCMEM},
        "a": {"BACKEND": checks.TIERED, "OPTIONS": {"TIERS": ["hot", "b"]}},
        "b": {"BACKEND": checks.TIERED, "OPTIONS": {"TIERS": ["hot", "a"]}},
        "self": {"BACKEND": checks.TIERED, "OPTIONS": {"TIERS": ["hot", "self"]}},
    }
    found = checks.check_tiered(caches)
    assert ids(found) == ["cachewright.E003"] * 3
    assert "a -> b -> a" in found[0].msg and "self -> self" in found[2].msg


def router_settings(**overrides: Any) -> SimpleNamespace:
    values = {
        "DATABASE_ROUTERS": [checks.ROUTER],
        "CACHEWRIGHT_CACHE_DATABASES": {"api_cache": "cachedb"},
        "DATABASES": {"default": {}, "cachedb": {}},
        **overrides,
    }
    return SimpleNamespace(**values)


DB_CACHES = {"api": {"BACKEND": checks.DATABASE_CACHE, "LOCATION": "api_cache"}}


def test_the_routers_table_map_is_checked() -> None:
    assert checks.check_router(router_settings(), DB_CACHES) == []
    found = checks.check_router(router_settings(DATABASES={"default": {}}), DB_CACHES)
    assert ids(found) == ["cachewright.E011"] and '"cachedb", which is not in DATABASES' in found[0].msg
    found = checks.check_router(router_settings(CACHEWRIGHT_CACHE_DATABASES=["api_cache"]), DB_CACHES)
    assert ids(found) == ["cachewright.E010"]
    found = checks.check_router(router_settings(CACHEWRIGHT_CACHE_DATABASES={}), DB_CACHES)
    assert ids(found) == ["cachewright.W012"] and '"api_cache"' in found[0].msg
    # Without the router, the map is not this package's business.
    assert checks.check_router(router_settings(DATABASE_ROUTERS=[], DATABASES={}), DB_CACHES) == []


def test_a_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    caches = {
        "fragments": {"BACKEND": "cachewright_django.memcached.LeanPyMemcacheCache"},
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "OPTIONS": {"CLIENT_CLASS": "cachewright_django.redis.DefaultClient"},
        },
    }
    assert checks.check_libraries(caches) == []
    monkeypatch.setattr(checks, "_installed", lambda module: module != "pymemcache")
    found = checks.check_libraries(caches)
    assert ids(found) == ["cachewright.E020"]
    assert (
        "needs pymemcache" in found[0].msg and found[0].hint == "pip install 'cachewright-django[memcached]'"
    )


def test_an_acl_user_with_an_old_django_redis_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "OPTIONS": {"CLIENT_CLASS": "cachewright_django.redis.DefaultClient", "USERNAME": "app"},
        }
    }
    assert checks.check_libraries(caches) == []  # django-redis 7 here
    monkeypatch.setattr(checks, "_django_redis_major", lambda: 6)
    monkeypatch.setattr(checks.metadata, "version", lambda name: "6.0.0")
    found = checks.check_libraries(caches)
    assert ids(found) == ["cachewright.E021"] and "django-redis 6.0.0 does not pass on" in found[0].msg


def test_an_unreadable_tls_file_is_named(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("test-only\n")
    caches = {
        "fragments": {
            "BACKEND": checks.TLS_MEMCACHED,
            "OPTIONS": {"tls": {"ca_certs": str(ca), "certfile": str(tmp_path / "missing.crt")}},
        }
    }
    found = checks.check_tls_files(caches)
    assert ids(found) == ["cachewright.W030"] and '["certfile"]' in found[0].msg


SETTINGS = """
SECRET_KEY = "test-only-not-a-secret"
INSTALLED_APPS = ["cachewright_django"]
USE_TZ = True
CACHES = {{
    "default": {{"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    "warm": {{"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "warm"}},
    "tiered": {{
        "BACKEND": "cachewright_django.tiered.TieredCache",
        "OPTIONS": {{"TIERS": ["default", {tier!r}]}},
    }},
}}
"""


@pytest.mark.live  # starts a program
@pytest.mark.parametrize("tier", ["warm", "wram"])
def test_manage_check_stops_on_a_wrong_tier(tmp_path: Path, tier: str) -> None:
    (tmp_path / "checked_settings.py").write_text(SETTINGS.format(tier=tier))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "checked_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "django", "check"], env=env, capture_output=True, text=True, check=False
    )
    if tier == "warm":
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 1
        assert '(cachewright.E002) CACHES["tiered"]["OPTIONS"]["TIERS"] names "wram"' in done.stderr

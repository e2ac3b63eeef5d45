# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.roundtrip: passes on working caches, names the alias that fails."""

from __future__ import annotations

from django.conf import settings

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)

from cachewright_django import roundtrip
from django.test.utils import override_settings

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": "app"},
    "off": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    "broken": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1"},
}


def test_every_alias_is_checked_and_failures_are_named() -> None:
    with override_settings(CACHES=CACHES):
        results = {r["alias"]: r for r in roundtrip.run()}
    assert results["default"]["ok"] and len(results["default"]["ops"]) == 9
    assert results["off"]["ok"]
    assert not results["broken"]["ok"]
    assert results["broken"]["failed_op"] == "set/get"
    assert "ConnectionError" in results["broken"]["error"]
    text = roundtrip.summary(list(results.values()))
    assert "broken" in text and "FAILED at set/get" in text


def test_main_exit_status() -> None:
    with override_settings(CACHES={"default": CACHES["default"]}):
        assert roundtrip.main(["default"]) == 0
    with override_settings(CACHES={"default": CACHES["broken"]}):
        assert roundtrip.main(["default"]) == 1

# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.tiered.TieredCache over local-memory tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)

from django.core.cache import InvalidCacheBackendError, caches
from django.test.utils import override_settings

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def tiers(**options: object) -> dict[str, dict[str, object]]:
    return {
        "default": {"BACKEND": LOCMEM, "LOCATION": "d"},
        "hot": {"BACKEND": LOCMEM, "LOCATION": "hot"},
        "warm": {"BACKEND": LOCMEM, "LOCATION": "warm"},
        "cold": {"BACKEND": LOCMEM, "LOCATION": "cold"},
        "tiered": {
            "BACKEND": "cachewright_django.tiered.TieredCache",
            "OPTIONS": {"TIERS": ["hot", "warm", "cold"], **options},
        },
    }


@pytest.fixture
def tiered() -> Iterator[object]:
    with override_settings(CACHES=tiers(TIMEOUTS=[60, 300, 3600])):
        yield caches["tiered"]
        for alias in ("hot", "warm", "cold"):
            caches[alias].clear()


def test_read_through_promotes_to_faster_tiers(tiered: object) -> None:
    caches["cold"].set("k", "v")
    assert tiered.get("k") == "v"
    assert caches["hot"].get("k") == "v" and caches["warm"].get("k") == "v"


def test_set_writes_all_tiers_with_capped_timeouts(tiered: object) -> None:
    tiered.set("k", 1, 7200)
    hot = caches["hot"]
    assert [caches[a].get("k") for a in ("hot", "warm", "cold")] == [1, 1, 1]
    # the hot tier keeps it at most 60 s, whatever the call asked
    expiry = hot._expire_info[hot.make_and_validate_key("k")]
    import time  # noqa: PLC0415

    assert expiry - time.time() <= 61


def test_write_to_one_tier_invalidates_the_others() -> None:
    with override_settings(CACHES=tiers(WRITE_TO="warm")):
        caches["hot"].set("k", "stale")
        caches["tiered"].set("k", "fresh")
        assert caches["hot"].get("k") is None
        assert caches["warm"].get("k") == "fresh"
        assert caches["cold"].get("k") is None
        assert caches["tiered"].get("k") == "fresh"


def test_delete_many_incr_add_touch(tiered: object) -> None:
    tiered.set_many({"a": 1, "b": 2})
    assert tiered.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert tiered.incr("a", 5) == 6
    assert caches["cold"].get("a") == 6
    assert tiered.add("a", 0) is False and tiered.add("n", 0) is True
    assert tiered.touch("n", 30) is True
    tiered.delete_many(["a", "b", "n"])
    assert all(caches[t].get(k) is None for t in ("hot", "warm", "cold") for k in ("a", "b", "n"))
    with pytest.raises(ValueError, match="not found"):
        tiered.incr("missing")


def test_versions_pass_through(tiered: object) -> None:
    tiered.set("k", "v2", version=2)
    assert tiered.get("k") is None and tiered.get("k", version=2) == "v2"


def test_bad_options_are_refused() -> None:
    with override_settings(CACHES=tiers(WRITE_TO="nowhere")), pytest.raises(InvalidCacheBackendError):
        _ = caches["tiered"]

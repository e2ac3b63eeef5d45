# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.contract on local-memory, database, file and dummy aliases, and on a
backend that breaks items of the contract: each broken item is named, limitations too."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.conf import settings

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)

from cachewright_django import contract
from django.core.cache.backends.locmem import LocMemCache
from django.test.utils import override_settings


class Careless(LocMemCache):
    """A cache that overwrites on add(), and whose incr() of a missing key invents one."""

    def add(self, key: str, value: Any, timeout: Any = 300, version: Any = None) -> bool:
        self.set(key, value, timeout, version)
        return True

    def incr(self, key: str, delta: int = 1, version: Any = None) -> int:
        if not self.has_key(key, version):
            self.set(key, 0, None, version)
        return super().incr(key, delta, version)


class Lagging(LocMemCache):
    """Reads that see a write only 0.2 s after it, as from a replica; `replicas` says so."""

    replicas = True

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.written: dict[str, float] = {}
        # django-redis's clients answer which server a read goes to: 0 is the primary.
        pick = lambda write=True: int(self.replicas and not write)  # noqa: E731
        self.client = SimpleNamespace(get_next_client_index=pick)

    def set(self, key: str, *args: Any, **kwargs: Any) -> None:
        self.written[key] = time.monotonic()
        super().set(key, *args, **kwargs)

    def get(self, key: str, default: Any = None, version: Any = None) -> Any:
        if time.monotonic() - self.written.get(key, 0) < 0.2:
            return default
        return super().get(key, default, version)


class LaggingUnsaid(Lagging):
    replicas = False


def test_every_item_holds_on_well_behaved_aliases(tmp_path: Path) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "one"},
        "other": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "two"},
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
        "off": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    with override_settings(CACHES=caches):
        results = contract.run(destructive=True)
    assert [r["alias"] for r in results] == ["default", "other", "files"]  # DummyCache caches nothing
    assert contract.failures(results) == []
    assert all(len(r["results"]) == 10 for r in results), results


def test_replica_reads_are_waited_for_and_named() -> None:
    caches = {
        "default": {"BACKEND": f"{__name__}.Lagging", "LOCATION": "lag"},
        "hidden": {"BACKEND": f"{__name__}.LaggingUnsaid", "LOCATION": "hidden"},
    }
    with override_settings(CACHES=caches):
        results = {r["alias"]: r["results"] for r in contract.run()}
    assert results["default"]["read your writes"].startswith("limitation: reads go to Redis replicas")
    assert contract.failures([{"alias": "default", "results": results["default"]}]) == []
    # The same lag on an alias that reads where it writes is a broken contract.
    assert results["hidden"]["unicode"].startswith("FAILED: ContractError: get of a unicode key")


def test_broken_items_and_limitations_are_named() -> None:
    caches = {
        "default": {"BACKEND": f"{__name__}.Careless", "LOCATION": "careless"},
        "pool": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": "127.0.0.1:1",
        },
    }
    with override_settings(CACHES=caches):
        results = contract.run(["default"], destructive=True)
        assert sorted(contract.failures(results)) == [
            "default: add: FAILED: ContractError: add of an existing key: got 'True', expected 'False'",
            "default: incr/decr: FAILED: ContractError: incr of a missing key did not raise ValueError",
        ]
        memcached = contract.Alias("pool", caches["pool"]["BACKEND"], None, "b")
        assert memcached.limit("clear isolation").startswith("clear() is flush_all")

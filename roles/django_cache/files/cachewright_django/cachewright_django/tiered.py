"""A tiered (hot/warm/cold) cache: one Django cache alias that reads through other aliases.

The seed chapter's ``CacheRouter`` done as a real backend, usable as ``caches["tiered"]`` and
by everything that takes a cache alias::

    CACHES = {
        "hot": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": 60},
        "warm": {...},  # e.g. django-redis
        "cold": {...},  # e.g. DatabaseCache
        "tiered": {
            "BACKEND": "cachewright_django.tiered.TieredCache",
            "OPTIONS": {
                "TIERS": ["hot", "warm", "cold"],   # fastest first
                "TIMEOUTS": [60, 300, 3600],       # optional: the most each tier keeps a key
                "WRITE_TO": "all",                 # or one tier's alias
                "PROMOTE": True,                   # a hit in a slower tier is copied upwards
            },
        },
    }

* get: the first tier that has the key answers; with PROMOTE the value is copied into the
  faster tiers (with their own timeouts).
* set/add/set_many/incr/touch: written to WRITE_TO (every tier, or one), and deleted from the
  tiers not written so no tier serves a stale value.
* delete/delete_many: from every tier. ``clear()`` clears every tier (on Redis: FLUSHDB).

Keys and versions are handed to the tiers unchanged; each tier applies its own KEY_PREFIX.
A timeout given to a call is capped per tier by TIMEOUTS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache, InvalidCacheBackendError

_MISSING = object()


class TieredCache(BaseCache):
    """Read-through cache over several other aliases, fastest first."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = params.get("OPTIONS") or {}
        self._tier_names: list[str] = list(options.get("TIERS") or [])
        if len(self._tier_names) < 2:
            raise InvalidCacheBackendError("TieredCache needs OPTIONS['TIERS']: two or more cache aliases")
        timeouts = options.get("TIMEOUTS")
        self._timeouts: list[Any] = list(timeouts) if timeouts is not None else [None] * len(self._tier_names)
        if len(self._timeouts) != len(self._tier_names):
            raise InvalidCacheBackendError("TieredCache: TIMEOUTS needs one entry per tier")
        write_to = options.get("WRITE_TO", "all")
        if write_to != "all" and write_to not in self._tier_names:
            raise InvalidCacheBackendError(f"TieredCache: WRITE_TO {write_to!r} is not 'all' or a tier")
        self._write = [write_to in (n, "all") for n in self._tier_names]
        self._promote = bool(options.get("PROMOTE", True))

    @property
    def tiers(self) -> list[BaseCache]:
        """The tier caches, fastest first (looked up per call: Django's caches are per thread)."""
        return [caches[name] for name in self._tier_names]

    def _timeout(self, index: int, timeout: Any) -> Any:
        """The call's timeout, capped by the tier's TIMEOUTS entry (None = tier default)."""
        cap = self._timeouts[index]
        if timeout is DEFAULT_TIMEOUT:
            return DEFAULT_TIMEOUT if cap is None else cap
        if cap is None:
            return timeout
        if timeout is None:
            return cap
        return min(timeout, cap)

    # Reads ---------------------------------------------------------------------------------
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        tiers = self.tiers
        for index, tier in enumerate(tiers):
            value = tier.get(key, _MISSING, version=version)
            if value is not _MISSING:
                if self._promote:
                    for upper in range(index):
                        tiers[upper].set(key, value, self._timeout(upper, DEFAULT_TIMEOUT), version=version)
                return value
        return default

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        tiers = self.tiers
        wanted = list(keys)
        found: dict[Any, Any] = {}
        for index, tier in enumerate(tiers):
            if not wanted:
                break
            hits = tier.get_many(wanted, version=version)
            if hits and self._promote:
                for upper in range(index):
                    tiers[upper].set_many(hits, self._timeout(upper, DEFAULT_TIMEOUT), version=version)
            found.update(hits)
            wanted = [k for k in wanted if k not in hits]
        return found

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return any(tier.has_key(key, version=version) for tier in self.tiers)

    # Writes --------------------------------------------------------------------------------
    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        for index, tier in enumerate(self.tiers):
            if self._write[index]:
                tier.set(key, value, self._timeout(index, timeout), version=version)
            else:
                tier.delete(key, version=version)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        if self.get(key, _MISSING, version=version) is not _MISSING:
            return False
        written = self._write.index(True)
        if not self.tiers[written].add(key, value, self._timeout(written, timeout), version=version):
            return False
        self.set(key, value, timeout, version=version)
        return True

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        failed: set[Any] = set()
        for index, tier in enumerate(self.tiers):
            if self._write[index]:
                failed.update(tier.set_many(data, self._timeout(index, timeout), version=version) or [])
            else:
                tier.delete_many(list(data), version=version)
        return sorted(failed, key=str)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        touched = False
        for index, tier in enumerate(self.tiers):
            touched = tier.touch(key, self._timeout(index, timeout), version=version) or touched
        return touched

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        value = self.get(key, _MISSING, version=version)
        if value is _MISSING:
            raise ValueError(f"Key '{key}' not found")
        new_value = value + delta
        self.set(key, new_value, version=version)
        return new_value

    def delete(self, key: Any, version: int | None = None) -> bool:
        deleted = False
        for tier in self.tiers:
            deleted = bool(tier.delete(key, version=version)) or deleted
        return deleted

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        keys = list(keys)
        for tier in self.tiers:
            tier.delete_many(keys, version=version)

    def clear(self) -> None:
        for tier in self.tiers:
            tier.clear()

    def close(self, **kwargs: Any) -> None:
        """The tiers are closed by Django themselves (they are aliases of their own)."""

# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.drill (the change drill's writers and checks) and
cachewright_django.sentinel (finding a new primary as soon as it is promoted)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)

from cachewright_django import drill
from cachewright_django.sentinel import Sentinel
from django.core.cache.backends.locmem import LocMemCache
from django.test.utils import override_settings

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drill"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.01
        return self.now


class Flaky(LocMemCache):
    """Refuses the writes whose sequence numbers are in `down`; 'not stored' for `silent`."""

    def __init__(self, down: set[int], silent: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__("flaky", {})
        self.down, self.silent, self.calls = down, silent, 0

    def add(self, key: str, value: Any, timeout: Any = None, version: Any = None) -> bool:
        seq = int(key.rsplit(":", 1)[1])
        self.calls += 1
        if seq in self.down:
            raise ConnectionError("refused")
        if seq in self.silent:
            return False
        return super().add(key, value, timeout, version)


def run_writer(cache: Any, attempts: int, run: str) -> drill.WriterLog:
    counter = iter(range(attempts + 1))
    return drill.write_until(
        "flaky", run, "p", lambda: next(counter) >= attempts, interval=0, cache=cache, clock=Clock()
    )


def test_every_acknowledged_write_is_recorded_and_errors_form_windows() -> None:
    log = run_writer(Flaky(down={3, 4, 5}), 10, "w1")
    assert log.acknowledged == [0, 1, 2, 6, 7, 8, 9]
    figures = log.as_dict()
    assert figures["failed"] == 3
    assert len(figures["windows"]) == 1
    assert figures["windows"][0]["kinds"] == {"ConnectionError": 3}


def test_failures_close_together_are_one_window() -> None:
    # A pool where one server's keys fail between the others' successes: one window.
    log = run_writer(Flaky(down={2, 4, 6}, silent={8}), 12, "w2")
    windows = log.as_dict()["windows"]
    assert len(windows) == 1 and windows[0]["errors"] == 4
    assert windows[0]["kinds"] == {"ConnectionError": 3, "not stored": 1}


def test_seed_and_verify_count_what_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drill, "SETTLE_S", 0.1)
    with override_settings(CACHES={"default": LOCMEM}):
        drill.seed("default", "r2", 30)
        cache = drill.drill_cache("default")
        record = drill.write(["default"], "r2", "p", iter([False] * 20 + [True]).__next__, interval=0)
        assert drill.verify("r2", ["default"], 30, record)["default"]["acknowledged_lost"] == 0
        cache.delete(drill.seed_key("r2", 4))
        cache.delete(drill.write_key("r2", "p", record["aliases"]["default"]["acknowledged"][0]))
        report = drill.verify("r2", ["default"], 30, record)["default"]
        assert report["seed_lost"] == 1 and report["acknowledged_lost"] == 1
        assert report["reloads"] == 0  # the writer followed no settings file


def test_read_after_write_counts_reads_that_miss() -> None:
    class Lagging(LocMemCache):
        """Every other read misses, as a replica a write has not reached yet."""

        def __init__(self) -> None:
            super().__init__("lagging", {})
            self.reads = 0

        def get(self, key: str, default: Any = None, version: Any = None) -> Any:
            self.reads += 1
            return default if self.reads % 2 else super().get(key, default, version)

    plan = ((100, 10), (1024, 4))
    assert drill.read_after_write("x", plan, LocMemCache("fine", {})) == {"100 B": "0/10", "1024 B": "0/4"}
    assert drill.read_after_write("x", plan, Lagging()) == {"100 B": "5/10", "1024 B": "2/4"}


def test_errors_the_alias_would_swallow_are_raised_for_the_drill() -> None:
    memcached = {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": "127.0.0.1:1",
        "OPTIONS": {"ignore_exc": True},
    }
    with override_settings(CACHES={"pool": memcached}):
        assert drill.drill_cache("pool")._options["ignore_exc"] is False


class FakeSentinel:
    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer, self.error, self.asked = answer, error, []

    def execute_command(self, *args: str) -> Any:
        self.asked.append(args)
        if self.error:
            raise self.error
        return self.answer


def test_the_primary_comes_from_get_master_addr_by_name() -> None:
    import redis  # noqa: PLC0415

    sentinel = Sentinel([("a", 1)])
    down, up = FakeSentinel(error=redis.ConnectionError("down")), FakeSentinel([b"10.0.0.7", b"6379"])
    sentinel.sentinels = [down, up]  # type: ignore[list-item]
    assert sentinel.discover_master("cache") == ("10.0.0.7", 6379)
    assert up.asked == [("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "cache")]
    assert sentinel.sentinels[0] is up, "the Sentinel that answered is asked first next time"
    sentinel.sentinels = [FakeSentinel(None)]  # type: ignore[list-item]
    with pytest.raises(redis.sentinel.MasterNotFoundError):
        sentinel.discover_master("cache")


def test_a_writer_that_follows_the_settings_builds_its_client_again_when_they_change(tmp_path: Any) -> None:
    path = tmp_path / "cache_settings.py"
    first = {"flaky": {**LOCMEM, "LOCATION": "before"}}
    path.write_text(f"CACHES = {first!r}\n", encoding="utf-8")
    follow = drill.FollowedSettings(str(path), check_every=0)
    rounds = iter(range(40))

    def stop() -> bool:
        n = next(rounds)
        if n == 10:
            second = {"flaky": {**LOCMEM, "LOCATION": "after"}}
            path.write_text(f"CACHES = {second!r}\n", encoding="utf-8")

            os.utime(path, (1, 1))
        return n >= 30

    log = drill.write_until("flaky", "f1", "p", stop, interval=0, cache=Flaky(set()), follow=follow)
    assert log.reloads == 1
    assert len(log.acknowledged) == 30
    after = LocMemCache("after", {})
    assert after.get(drill.write_key("f1", "p", 29)) == drill.value_of(drill.write_key("f1", "p", 29))


def test_a_writer_that_follows_the_settings_sees_a_new_secret(tmp_path: Any) -> None:
    """A new password changes only a file of cache_settings.secrets/, which the module reads:
    the writer reads the settings anew then too (as the restarted app would)."""
    path = tmp_path / "cache_settings.py"
    secrets = tmp_path / "cache_settings.secrets"
    secrets.mkdir()
    (secrets / "flaky").write_text("before", encoding="utf-8")
    path.write_text(
        "from pathlib import Path\n"
        "_SECRETS = Path(__file__).resolve().with_suffix('.secrets')\n"
        f"CACHES = {{'flaky': {{**{LOCMEM!r}, 'LOCATION': (_SECRETS / 'flaky').read_text()}}}}\n",
        encoding="utf-8",
    )
    follow = drill.FollowedSettings(str(path), check_every=0)
    assert follow.poll() == 0
    (secrets / "flaky").write_text("after", encoding="utf-8")
    os.utime(secrets / "flaky", (1, 1))
    assert follow.poll() == 1
    assert follow.caches is not None and follow.caches["flaky"]["LOCATION"] == "after"
    assert follow.poll() == 1  # nothing changed since


class Deaf(LocMemCache):
    """Acknowledges, but drops, the changes of the invalidation keys whose index is in `lost`
    (a server that restarts with the values it had before)."""

    def __init__(self, lost: set[int]) -> None:
        super().__init__("deaf", {})
        self.lost = lost

    def _dropped(self, key: str) -> bool:
        return ":inv:" in key and int(key.rsplit(":", 1)[1]) in self.lost

    def set(self, key: str, value: Any, timeout: Any = None, version: Any = None) -> None:
        if not (self._dropped(key) and not str(value).startswith("old:")):
            super().set(key, value, timeout, version)

    def delete(self, key: str, version: Any = None) -> bool:
        return False if self._dropped(key) else super().delete(key, version)


def test_the_invalidation_writer_counts_stale_reads_and_resurrected_deletes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(drill, "INVALIDATION_LAG", 20)
    monkeypatch.setattr(drill, "READ_BACK", 5)
    steps = iter(range(61))

    def stop() -> bool:
        return next(steps) >= 60

    fine = LocMemCache("fine", {})
    clean = drill.invalidate_until("x", "i1", "p", stop, interval=0, cache=fine, clock=Clock())
    assert (clean.steps, clean.reads, clean.stale_reads, clean.misses) == (60, 55, 0, 0)
    steps = iter(range(61))
    cache = Deaf(lost={10, 11, 12, 13})
    log = drill.invalidate_until("x", "i2", "p", stop, interval=0, cache=cache, clock=Clock())
    assert log.stale_reads == 4
    after = drill.verify_invalidations("i2", "p", cache, log.steps)
    assert (after["stale_overwrites"], after["resurrected_deletes"]) == (2, 2)
    assert after["overwritten"] == after["deleted"] == 30


def test_a_failed_write_of_a_later_key_does_not_skip_this_step_s_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old value of a later key goes to another server than this step's change: its
    failure (that server restarting) must not leave this step's key unchanged."""

    class AheadDown(LocMemCache):
        def set(self, key: str, value: Any, timeout: Any = None, version: Any = None) -> None:
            if str(value).startswith("old:") and 30 <= int(key.rsplit(":", 1)[1]) < 40:
                raise ConnectionError("restarting")
            super().set(key, value, timeout, version)

    monkeypatch.setattr(drill, "INVALIDATION_LAG", 20)
    monkeypatch.setattr(drill, "READ_BACK", 5)
    steps = iter(range(61))
    cache = AheadDown("ahead", {})
    log = drill.invalidate_until(
        "x", "i3", "p", lambda: next(steps) >= 60, interval=0, cache=cache, clock=Clock()
    )
    after = drill.verify_invalidations("i3", "p", cache, log.steps)
    assert log.stale_reads == 0 and (after["stale_overwrites"], after["resurrected_deletes"]) == (0, 0)

# SPDX-License-Identifier: Apache-2.0
"""cachebench runner and suite without servers: workers in threads and forked processes,
the rate limit, and the safety rules (own prefix and version, only own keys deleted,
clear() never called) proven with a fake cache that refuses everything else."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

from cachewright_django.bench import BENCH_VERSION  # noqa: E402
from cachewright_django.bench.runner import LoadSpec, run_load  # noqa: E402
from cachewright_django.bench.sessions import DjangoSession, KeySpace  # noqa: E402
from cachewright_django.bench.suite import BenchOptions, Suite, compute_ratios  # noqa: E402
from cachewright_django.bench.workload import OPS, Concurrency  # noqa: E402


class SleepySession:
    """A session whose calls take about 0.2 ms."""

    def operation(self, op):
        def call(indices):
            time.sleep(0.0002)
            return len(indices)

        return call

    def connect(self):
        pass

    def populate(self, indices, counters=False):
        pass

    def remove(self, indices):
        pass

    def close(self):
        pass


def spec(concurrency, **kwargs):
    values = {"op": "get", "keys": 100, "distribution": "uniform", "duration": 0.3, "warmup": 0.05}
    return LoadSpec(concurrency=concurrency, **{**values, **kwargs})


@pytest.mark.parametrize("concurrency", [Concurrency(1, 2), Concurrency(2, 2)])
def test_every_call_is_a_sample(concurrency):
    """Threads in this process, or forked processes: calls == samples, throughput over the window."""
    messages = []
    result = run_load(lambda _i: SleepySession(), spec(concurrency, duration=1.2), messages.append)
    assert result.errors == 0 and result.calls > 100
    assert result.latency is not None and result.latency.samples == result.calls
    assert result.hits == result.calls  # get: one key per call, every key "found"
    assert 1.1 < result.elapsed_s < 1.6
    assert result.ops_per_s == pytest.approx(result.calls / result.elapsed_s)
    assert 150 <= result.latency.p50 < 50_000  # microseconds: the 0.2 ms sleep and scheduling
    assert any("calls" in m for m in messages)  # progress while it runs


def test_rate_limit_caps_the_calls():
    result = run_load(lambda _i: SleepySession(), spec(Concurrency(1, 2), max_rate=200, duration=0.5))
    assert result.rate_limited
    assert result.ops_per_s <= 200 * 1.1
    assert result.calls >= 60


def test_failing_calls_are_counted_not_fatal():
    class Failing(SleepySession):
        def operation(self, op):
            def call(indices):
                raise ConnectionError("server gone")

            return call

    result = run_load(lambda _i: Failing(), spec(Concurrency(1, 1), duration=0.2))
    assert result.calls == 0 and result.errors > 0
    assert "server gone" in (result.first_error or "")
    assert result.latency is None


def test_session_that_cannot_open_is_recorded():
    def factory(_i):
        raise OSError("connection refused")

    result = run_load(factory, spec(Concurrency(1, 1), duration=0.1))
    assert result.calls == 0 and result.errors == 1
    assert "connection refused" in (result.first_error or "")


def test_no_call_is_made_while_a_worker_is_still_connecting():
    """Connection set-up (a TLS handshake per server) is never inside the warm-up or the
    window: every worker waits until all are connected, however long one takes."""
    connected = [False] * 4

    class SlowToConnect(SleepySession):
        def __init__(self, index):
            self.index = index

        def connect(self):
            time.sleep(0.15 * self.index)  # the last worker is connected 0.45 s after the first
            connected[self.index] = True

        def operation(self, op):
            def call(indices):
                if not all(connected):
                    raise AssertionError("a call while a worker was still connecting")
                time.sleep(0.0002)
                return len(indices)

            return call

    result = run_load(SlowToConnect, spec(Concurrency(1, 4), duration=0.3, warmup=0.0))
    assert result.errors == 0, result.first_error
    assert result.calls > 100 and 0.25 < result.elapsed_s < 0.5


@pytest.mark.parametrize("concurrency", [Concurrency(1, 3), Concurrency(3, 1)])
def test_a_worker_that_cannot_connect_ends_the_run_without_a_hang(concurrency):
    class Refused(SleepySession):
        def __init__(self, index):
            self.index = index

        def connect(self):
            if self.index == 1:
                raise ConnectionRefusedError("connection refused")

    start = time.monotonic()
    result = run_load(Refused, spec(concurrency, duration=0.3))
    assert time.monotonic() - start < 10
    assert result.calls == 0 and result.errors == 3
    assert "connection refused" in (result.first_error or "") or "connected" in (result.first_error or "")


class GuardedCache:
    """A Django-like cache that accepts only the bench's own keys and version, records every
    call, and refuses clear() and anything else a benchmark must not call."""

    def __init__(self, store, prefix):
        self.store, self.prefix, self.lock = store, prefix, threading.Lock()
        self.calls = []

    def _check(self, method, keys, version):
        assert version == BENCH_VERSION, f"{method} without version={BENCH_VERSION}"
        for key in keys:
            assert key.startswith(self.prefix), f"{method} on a foreign key {key!r}"
        with self.lock:
            self.calls.append(method)

    def get(self, key, default=None, version=None):
        self._check("get", [key], version)
        return self.store.get(key, default)

    def set(self, key, value, timeout=None, version=None):
        self._check("set", [key], version)
        assert timeout and timeout > 0, "every key the bench writes expires"
        self.store[key] = value

    def add(self, key, value, timeout=None, version=None):
        self._check("add", [key], version)
        return self.store.setdefault(key, value) is value

    def delete(self, key, version=None):
        self._check("delete", [key], version)
        return self.store.pop(key, None) is not None

    def incr(self, key, delta=1, version=None):
        self._check("incr", [key], version)
        self.store[key] = self.store[key] + delta
        return self.store[key]

    def touch(self, key, timeout=None, version=None):
        self._check("touch", [key], version)
        return key in self.store

    def get_many(self, keys, version=None):
        self._check("get_many", keys, version)
        return {k: self.store[k] for k in keys if k in self.store}

    def set_many(self, data, timeout=None, version=None):
        self._check("set_many", list(data), version)
        self.store.update(data)
        return []

    def delete_many(self, keys, version=None):
        self._check("delete_many", keys, version)
        for key in keys:
            self.store.pop(key, None)

    def close(self, **kwargs):
        pass

    def clear(self):
        raise AssertionError("clear() called: that is FLUSHDB on Redis")

    def __getattr__(self, name):
        if name in FORBIDDEN:
            raise AssertionError(f"the bench must not call {name}")
        raise AttributeError(name)


FORBIDDEN = {"delete_pattern", "keys", "iter_keys", "flush_all", "flushdb", "incr_version", "decr_version"}


@pytest.mark.live  # starts a program
def test_suite_never_clears_and_deletes_only_its_own_keys():
    store: dict[str, Any] = {"app:1:precious": "the application's data"}
    caches: list[GuardedCache] = []
    run_id = "20250101T000000Z-test01"

    def get_cache(alias):
        cache = GuardedCache(store, f"cachebench:{run_id}:{alias}:")
        caches.append(cache)
        return cache

    options = BenchOptions(
        aliases=["guarded"],
        ops=list(OPS),
        keys=200,
        duration=0.05,
        warmup=0.0,
        concurrency=[Concurrency(1, 2)],
        raw=False,
        redis_benchmark=False,
    )
    doc = Suite(options, get_cache=get_cache, run_id=run_id).run()
    called = {c for cache in caches for c in cache.calls}
    assert set(OPS) <= called  # every operation ran through the fake
    assert store == {"app:1:precious": "the application's data"}  # own keys gone, the app's key kept
    assert doc["key_prefix"] == f"cachebench:{run_id}:" and doc["version"] == BENCH_VERSION
    assert {r["op"] for r in doc["results"]} == set(OPS)
    assert all(r["errors"] == 0 for r in doc["results"]), [r["first_error"] for r in doc["results"]]
    assert doc["aliases"]["guarded"]["kind"] == "other"
    assert doc["skipped"] == []  # --no-raw: nothing to skip
    assert doc["results"][0]["latency_us"]["samples"] == doc["results"][0]["calls"]


def test_django_session_passes_the_bench_version():
    store: dict[str, Any] = {}
    cache = GuardedCache(store, "cachebench:x:")
    session = DjangoSession(cache, KeySpace("cachebench:x:", 10), b"v" * 10, 60)
    session.populate(range(10))
    session.populate(range(10), counters=True)
    assert session.operation("get")([3]) == 1
    assert session.operation("get_many")([1, 2, 3]) == 3
    assert session.operation("incr")([4]) == 0 and store["cachebench:x:n:4"] == 1
    session.remove(range(10))
    assert store == {}


def test_ratios_pair_the_same_slice():
    base = {"op": "get", "value_size": 100, "distribution": "uniform", "concurrency": "1x1", "alias": "a"}
    results = [
        {**base, "layer": "django", "ops_per_s": 900.0},
        {**base, "layer": "raw-redis-py", "ops_per_s": 1000.0},
        {**base, "layer": "builtin-redis", "ops_per_s": 450.0},
        {**base, "layer": "raw-redis-py", "ops_per_s": 5.0, "concurrency": "2x1"},  # no Django pair
    ]
    ratios = {r["kind"]: r["ratio"] for r in compute_ratios(results)}
    assert ratios == {"django/raw": 0.9, "ours/builtin": 2.0}


def run_record(layer, ops, p50=100.0, concurrency="1x1"):
    base = {
        "op": "get",
        "value_size": 100,
        "distribution": "uniform",
        "concurrency": concurrency,
        "alias": "a",
    }
    latency = {
        "samples": 10,
        "min": 1.0,
        "mean": p50,
        "p50": p50,
        "p95": p50,
        "p99": p50,
        "p99_9": p50,
        "max": p50,
    }
    return {
        **base, "layer": layer, "ops_per_s": ops, "keys_per_call": 1, "calls": 10, "errors": 0,
        "first_error": None, "hits": 10, "hit_ratio": 1.0, "elapsed_s": 1.0, "keys_per_s": ops,
        "latency_us": latency,
    }  # fmt: skip


def test_repetitions_become_one_result_median_and_spread():
    from cachewright_django.bench.suite import aggregate  # noqa: PLC0415

    result = aggregate(
        [run_record("django", ops, p50) for ops, p50 in ((900.0, 90), (1200.0, 70), (1000.0, 80))]
    )
    assert result["repetitions"] == 3 and len(result["runs"]) == 3
    assert result["ops_per_s"] == 1000.0 and result["spread"]["ops_per_s"] == [900.0, 1200.0]
    assert result["latency_us"]["p50"] == 80 and result["spread"]["p50"] == [70, 90]
    assert result["calls"] == 30 and result["hits"] == 30 and result["hit_ratio"] == 1.0
    assert result["latency_us"]["samples"] == 30


def test_a_ratio_pairs_the_runs_and_is_noisy_beyond_ten_percent():
    from cachewright_django.bench.suite import aggregate  # noqa: PLC0415

    def ratio(django_ops, raw_ops):
        results = [
            aggregate([run_record("django", ops) for ops in django_ops]),
            aggregate([run_record("raw-pylibmc", ops) for ops in raw_ops]),
        ]
        (found,) = compute_ratios(results)
        return found

    steady = ratio([900.0, 450.0, 1800.0], [1000.0, 500.0, 2000.0])  # the host's load changed, not the ratio
    assert (steady["ratio"], steady["ratio_range"], steady["pairs"], steady["noisy"]) == (
        0.9,
        [0.9, 0.9],
        3,
        False,
    )
    noisy = ratio([900.0, 700.0, 900.0], [1000.0, 1000.0, 1000.0])
    assert noisy["ratio"] == 0.9 and noisy["ratio_range"] == [0.7, 0.9] and noisy["noisy"]
    assert not ratio([950.0, 900.0, 850.0], [1000.0, 1000.0, 1000.0])["noisy"]  # within +-10 %

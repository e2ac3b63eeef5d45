# SPDX-License-Identifier: Apache-2.0
"""cachebench statistics and workload: percentiles from known samples, key distributions,
concurrency rule."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from cachewright_django.bench import stats, workload  # noqa: E402


def test_nearest_rank_on_1_to_100():
    samples = list(range(1, 101))
    assert [stats.nearest_rank(samples, p) for p in (50, 95, 99, 99.9, 100)] == [50, 95, 99, 100, 100]
    assert stats.nearest_rank(samples, 0.5) == 1  # rank ceil(0.5) = 1


def test_nearest_rank_on_1_to_1000_reaches_p99_9():
    samples = list(range(1, 1001))
    assert stats.nearest_rank(samples, 50) == 500
    assert stats.nearest_rank(samples, 99) == 990
    assert stats.nearest_rank(samples, 99.9) == 999  # not 1000: float 99.9/100*1000 is rounded first


def test_nearest_rank_takes_an_observed_value_not_an_interpolation():
    assert stats.nearest_rank([10, 20, 30, 40], 50) == 20
    assert stats.nearest_rank([10, 20, 30, 40], 51) == 30
    assert stats.nearest_rank([7], 99.9) == 7


@pytest.mark.parametrize("bad", [0, -1, 100.1])
def test_percentile_out_of_range(bad):
    with pytest.raises(ValueError, match="percentile"):
        stats.nearest_rank([1, 2, 3], bad)


def test_no_samples():
    with pytest.raises(ValueError, match="no samples"):
        stats.nearest_rank([], 50)
    assert stats.summarize_ns([]) is None


def test_summary_from_unsorted_nanoseconds():
    samples_ns = [x * 1000 for x in range(1000, 0, -1)]  # 1..1000 us, shuffled order does not matter
    random.Random(3).shuffle(samples_ns)
    summary = stats.summarize_ns(samples_ns)
    assert summary is not None
    assert (summary.samples, summary.min, summary.max) == (1000, 1.0, 1000.0)
    assert (summary.p50, summary.p95, summary.p99, summary.p99_9) == (500.0, 950.0, 990.0, 999.0)
    assert summary.mean == pytest.approx(500.5)
    assert summary.as_dict()["p99_9"] == 999.0


def test_merged_samples_give_the_true_percentile_not_an_average():
    fast = [100] * 99 + [200]  # p99 = 100
    slow = [1000] * 100  # p99 = 1000
    merged = sorted(stats.merge_samples([fast, slow]))
    assert stats.nearest_rank(merged, 99) == 1000
    assert stats.nearest_rank(merged, 50) == 200
    # the average of the workers' p99 (550) is a latency nobody saw
    assert stats.nearest_rank(merged, 99) != (stats.nearest_rank(fast, 99) + stats.nearest_rank(slow, 99)) / 2


def test_throughput():
    assert stats.throughput(5000, 2.0) == 2500.0
    assert stats.throughput(10, 0.0) == 0.0


@pytest.mark.parametrize(
    ("text", "cpus", "expected"),
    [
        ("1", 2, (1, 1)),
        ("2", 2, (2, 1)),
        ("4", 2, (2, 2)),
        ("8", 2, (2, 4)),
        ("3", 2, (1, 3)),
        ("8", 8, (8, 1)),
        ("6", 4, (3, 2)),
        ("2x4", 2, (2, 4)),
        ("1X8", 2, (1, 8)),
    ],
)
def test_concurrency_rule(text, cpus, expected):
    c = workload.parse_concurrency(text, cpus=cpus)
    assert (c.processes, c.threads) == expected
    assert c.workers == expected[0] * expected[1]
    assert c.label == f"{expected[0]}x{expected[1]}"


@pytest.mark.parametrize("text", ["0", "0x4", "2x0", "x", "abc", "2000"])
def test_concurrency_refused(text):
    with pytest.raises(ValueError):
        workload.parse_concurrency(text, cpus=2)


def test_parse_ops_and_sizes():
    assert workload.parse_ops("get, set,get") == ["get", "set"]
    assert workload.parse_ops("all") == list(workload.OPS)
    with pytest.raises(ValueError, match="unknown operation"):
        workload.parse_ops("get,flush")
    assert workload.parse_int_list("100,10240", "--value-size") == [100, 10240]
    with pytest.raises(ValueError, match="positive"):
        workload.parse_int_list("100,0", "--value-size")
    assert workload.keys_per_call("get_many", 100) == 100
    assert workload.keys_per_call("get", 100) == 1


def test_uniform_keys_cover_the_space_and_are_seeded():
    a = workload.KeyChooser("uniform", 100, seed=7)
    b = workload.KeyChooser("uniform", 100, seed=7)
    draws = [a.next() for _ in range(5000)]
    assert draws == [b.next() for _ in range(5000)]
    assert min(draws) == 0 and max(draws) == 99
    assert max(Counter(draws).values()) < 100  # no hot key


def test_zipf_is_hot_key_heavy_and_matches_the_law():
    n, s = 1000, 1.0
    table = workload.ZipfTable(n, s=s, seed=1)
    chooser = workload.KeyChooser("zipf", n, seed=2, zipf=table)
    draws = Counter(chooser.next() for _ in range(50_000))
    hottest = table.permutation[0]
    harmonic = sum(1 / r for r in range(1, n + 1))
    assert draws.most_common(1)[0][0] == hottest
    assert draws[hottest] / 50_000 == pytest.approx(1 / harmonic, rel=0.05)  # P(rank 1) = 1 / H_n
    assert draws[table.permutation[1]] / draws[hottest] == pytest.approx(
        0.5, rel=0.1
    )  # rank 2: half as often
    assert all(0 <= k < n for k in draws)


def test_zipf_cdf_edges():
    table = workload.ZipfTable(5, s=0.99)
    assert table.cdf[-1] == 1.0
    assert table.rank(0.0) == 0
    assert table.rank(0.999999999) == 4


def test_batches_hold_distinct_keys():
    chooser = workload.KeyChooser("zipf", 10_000, seed=3)
    batch = chooser.batch(100)
    assert len(batch) == len(set(batch)) == 100
    assert len(workload.KeyChooser("uniform", 50, seed=1).batch(100)) == 50  # capped by the key space


def test_values_are_seeded_and_sized():
    assert len(workload.make_value(10240, seed=1)) == 10240
    assert workload.make_value(100, seed=1) == workload.make_value(100, seed=1)
    assert workload.make_value(100, seed=1) != workload.make_value(100, seed=2)

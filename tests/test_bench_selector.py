# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.report.selector: ranking from requirements, reasons, measured performance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from cachewright_django.report import selector  # noqa: E402

RUN = ROOT / "tests" / "data" / "bench" / "lab" / "20250102T000000Z"


def order(scores):
    return [s.backend for s in scores]


def test_seed_example_ranks_redis_first():
    scores = selector.rank(["performance", "persistence", "features", "distributed"])
    assert order(scores)[0] == "redis"
    assert order(scores)[-1] == "locmem"  # per process: no use when the cache must be shared
    assert {s.backend: s.total for s in scores}["database"] > {s.backend: s.total for s in scores}[
        "memcached"
    ]


def test_distributed_counts_the_database_and_rules_out_locmem():
    scores = {s.backend: s for s in selector.rank(["distributed"])}
    assert scores["database"].points["distributed"] > 0  # the seed gave it nothing
    assert scores["locmem"].points["distributed"] < 0
    assert "per process" in scores["locmem"].reasons["distributed"]


def test_simple_and_persistent_without_sharing():
    assert order(selector.rank(["simple_setup", "persistence"]))[:2] == ["database", "filesystem"]


def test_every_score_has_a_reason():
    for score in selector.rank(list(selector.CRITERIA)):
        assert set(score.reasons) == set(selector.CRITERIA)
        assert all(score.reasons.values())


def test_no_requirement_scores_zero():
    scores = selector.rank([])
    assert {s.total for s in scores} == {0}
    assert order(scores) == list(selector.BACKENDS)


def test_unknown_requirement():
    with pytest.raises(ValueError, match="unknown requirement"):
        selector.rank(["speed"])


def test_measured_performance_from_a_report():
    measured = selector.measured_performance(RUN)
    assert set(measured) == {"redis", "memcached"}
    assert (measured["redis"].alias, measured["redis"].ops_per_s, measured["redis"].concurrency) == (
        "default", 18000.0, "2x1",
    )  # fmt: skip
    assert measured["memcached"].p99_ms == pytest.approx(0.5)
    scores = {s.backend: s for s in selector.rank(["performance"], measured)}
    assert scores["redis"].points["performance"] == 3.0
    assert scores["memcached"].points["performance"] == 2.5  # 15,000 / 18,000 of the fastest
    assert (
        "measured: alias 'default' on app1 GET 18,000 ops/s, p99 0.450 ms at 2x1"
        in scores["redis"].reasons["performance"]
    )
    assert scores["database"].reasons["performance"].startswith("not measured (static estimate)")


def test_slow_p99_costs_a_point():
    measured = {
        "redis": selector.Measured("redis", "a", "h", 10000, 0.2, "1x1", 100),
        "memcached": selector.Measured("memcached", "b", "h", 10000, 0.9, "1x1", 100),
    }
    scores = {s.backend: s for s in selector.rank(["performance"], measured)}
    assert scores["redis"].points["performance"] == 3.0
    assert scores["memcached"].points["performance"] == 2.0
    assert "p99 over twice the best" in scores["memcached"].reasons["performance"]


def test_cli_text_and_json(capsys):
    assert selector.main(["--performance", "--distributed", "--report", str(RUN)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["rank", "backend", "score", "performance", "distributed"]
    assert text.splitlines()[1].split()[:2] == ["1", "redis"]
    assert selector.main(["--persistence", "--simple-setup", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["requirements"] == ["persistence", "simple_setup"] and data["measured"] is False
    assert data["ranking"][0]["backend"] == "database"
    assert data["ranking"][0]["reasons"]["persistence"].startswith("rows in the database")


def test_cli_unreadable_report(tmp_path, capsys):
    assert selector.main(["--performance", "--report", str(tmp_path)]) == 2
    assert "no result JSON" in capsys.readouterr().err

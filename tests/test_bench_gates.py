# SPDX-License-Identifier: Apache-2.0
"""cachewright_django.report.gates: validation of the gates file and the checks of each limit."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from cachewright_django.report import gates  # noqa: E402
from cachewright_django.report.resultset import load_run  # noqa: E402

DATA = ROOT / "tests" / "data" / "bench"
RUN = load_run(DATA / "lab" / "20250102T000000Z")
ROWS, RATIOS = RUN.rows(), RUN.ratios()


def check(rule):
    return gates.evaluate(gates.validate_rules([rule]), ROWS, RATIOS)


def test_fixture_gates_file():
    checks = gates.evaluate(gates.load_gates(DATA / "gates.yml"), ROWS, RATIOS)
    missed = gates.misses(checks)
    assert len(checks) == 10
    assert [(c.alias, c.where, c.metric, c.limit, c.measured) for c in missed] == [
        ("default", "100B uniform 2x1", "p99 ms", 0.4, 0.45),
        ("sessions", "100B uniform 1x1", "Django/raw", 0.85, 0.75),
        ("sessions", "100B uniform 2x1", "Django/raw", 0.85, 0.75),
    ]


@pytest.mark.parametrize(
    ("rule", "measured", "passed"),
    [
        ({"min_ops_per_s": 10000}, 10000.0, True),  # the limit itself passes
        ({"min_ops_per_s": 10001}, 10000.0, False),
        ({"max_p99_ms": 0.3}, 0.3, True),
        ({"max_p99_ms": 0.29}, 0.3, False),
        ({"max_p50_ms": 0.1}, 0.09, True),
        ({"max_p99_9_ms": 0.5}, 0.9, False),
        ({"min_raw_ratio": 0.9}, 0.9091, True),
        ({"min_builtin_ratio": 2.1}, 2.0, False),
        ({"max_error_ratio": 0}, 0.0, True),
    ],
)
def test_each_limit(rule, measured, passed):
    (result,) = check({"alias": "default", "op": "get", "concurrency": "1x1", **rule})
    assert result.measured == pytest.approx(measured)
    assert result.passed is passed


def test_error_ratio_counts_failed_calls():
    (result,) = check({"alias": "default", "op": "set", "concurrency": 2, "max_error_ratio": 0})
    assert result.measured == pytest.approx(3 / 70003) and not result.passed


def test_filters_select_rows():
    assert len(check({"alias": "*", "op": "*", "min_ops_per_s": 1})) == 8  # every Django row
    assert len(check({"alias": "*", "op": "get", "concurrency": 1, "min_ops_per_s": 1})) == 2
    assert (
        len(check({"alias": "default", "op": "*", "host": "app1", "value_size": 100, "min_ops_per_s": 1}))
        == 4
    )
    ceiling = check({"alias": "default", "op": "get", "layer": "redis-benchmark", "min_ops_per_s": 50000})
    assert [(c.where, c.passed) for c in ceiling] == [("100B uniform c50", True)]


def test_a_rule_that_selects_nothing_is_a_miss():
    (result,) = check({"alias": "ghost", "op": "get", "value_size": 10240, "min_ops_per_s": 1})
    assert not result.passed and result.measured is None
    assert result.where == "no result (value_size=10240)"


def test_a_missing_ratio_is_a_miss():
    (result,) = check({"alias": "sessions", "op": "get", "concurrency": "1x1", "min_builtin_ratio": 1.5})
    assert result.measured is None and not result.passed


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"alias": "a", "op": "get", "min_ops": 1}, "unknown key"),
        ({"op": "get", "min_ops_per_s": 1}, "'alias' and 'op' are required"),
        ({"alias": "a", "op": "get"}, "no limit"),
        ({"alias": "a", "op": "get", "max_p99_ms": "fast"}, "must be a number"),
        ({"alias": "a", "op": "get", "max_p99_ms": True}, "must be a number"),
        ("not a mapping", "a mapping expected"),
    ],
)
def test_invalid_rules(rule, message):
    with pytest.raises(gates.GateError, match=message):
        gates.validate_rules([rule])


def test_invalid_files(tmp_path):
    path = tmp_path / "g.yml"
    path.write_text("- alias: a\n")
    with pytest.raises(gates.GateError, match="list under 'gates:'"):
        gates.load_gates(path)
    path.write_text("gates: [\n")
    with pytest.raises(gates.GateError, match="cannot read"):
        gates.load_gates(path)


def test_tables():
    checks = gates.evaluate(gates.load_gates(DATA / "gates.yml"), ROWS, RATIOS)
    text = gates.table(gates.misses(checks))
    assert text.splitlines()[0].split() == [
        "host",
        "alias",
        "op",
        "where",
        "metric",
        "limit",
        "measured",
        "status",
    ]
    assert text.count("MISSED") == 3
    markdown = gates.table(checks, markdown=True)
    assert markdown.splitlines()[1] == "|---|---|---|---|---|---|---|---|"
    assert "| app1 | default | get | 100B uniform 2x1 | ops/s | 15,000 | 18,000 | ok |" in markdown


def test_a_noisy_ratio_is_neither_met_nor_missed():
    row = {**ROWS[0], "host": "app1", "alias": "n", "op": "get", "layer": "django", "concurrency": "1x1"}
    key = {k: row[k] for k in ("host", "alias", "op", "value_size", "distribution", "concurrency")}
    rule = gates.validate_rules([{"alias": "n", "op": "get", "min_raw_ratio": 0.85}])
    for ratio, noisy, expected in ((0.5, True, "noisy"), (0.5, False, "MISSED"), (0.9, False, "ok")):
        ratios = [{**key, "kind": "django/raw", "ratio": ratio, "noisy": noisy}]
        (result,) = gates.evaluate(rule, [row], ratios)
        assert gates.status(result) == expected
        assert (result in gates.misses([result])) == (expected == "MISSED")

"""Gates: per-alias limits on a benchmark run, and the table of what missed.

A gates file (YAML) is a list of rules under ``gates:``. Each rule selects results of
the Django layer by alias and op (``"*"`` = any) and optionally by host, value size,
distribution and concurrency, and sets one or more limits::

    gates:
      - alias: default
        op: get
        concurrency: 8            # total workers (8) or exactly "2x4"; omitted = every level
        value_size: 100
        min_ops_per_s: 5000
        max_p99_ms: 2.0
        min_raw_ratio: 0.85       # Django/raw ops/s >= 0.85 (at most 15 % overhead)
        min_builtin_ratio: 1.5    # ours/built-in RedisCache ops/s >= 1.5
        max_error_ratio: 0        # failed calls / all calls

Every selected result must meet every limit of the rule. A rule that selects nothing is
a miss too ("no result"), so a typo in a gate never passes silently. A ratio limit on a
ratio whose repetitions are noisy (a paired run more than 10 % from the median) is
reported as ``noisy``: neither met nor missed, and the play does not fail on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LIMITS = {
    "min_ops_per_s": ("ops/s", "min"),
    "max_p99_ms": ("p99 ms", "max"),
    "max_p50_ms": ("p50 ms", "max"),
    "max_p99_9_ms": ("p99.9 ms", "max"),
    "min_raw_ratio": ("Django/raw", "min"),
    "min_builtin_ratio": ("ours/builtin", "min"),
    "max_error_ratio": ("error ratio", "max"),
}
FILTERS = ("alias", "op", "host", "value_size", "distribution", "concurrency", "layer")


class GateError(Exception):
    """A gates file that cannot be used."""


@dataclass(frozen=True)
class Check:
    """One limit checked against one result (``measured`` None: nothing to measure)."""

    host: str
    alias: str
    op: str
    where: str  # value size, distribution, concurrency
    metric: str
    limit: float
    measured: float | None
    passed: bool
    noisy: bool = False


def load_gates(path: Path) -> list[dict[str, Any]]:
    """The rules of a gates file, validated."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GateError(f"{path}: cannot read gates: {exc}") from exc
    rules = data.get("gates") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise GateError(f"{path}: expected a mapping with a list under 'gates:'")
    return validate_rules(rules, str(path))


def validate_rules(rules: list[Any], source: str = "gates") -> list[dict[str, Any]]:
    """Check names and types of every rule."""
    for n, rule in enumerate(rules, 1):
        where = f"{source}: rule {n}"
        if not isinstance(rule, dict):
            raise GateError(f"{where}: a mapping expected")
        unknown = sorted(set(rule) - set(LIMITS) - set(FILTERS))
        if unknown:
            raise GateError(
                f"{where}: unknown key(s) {unknown}; limits: {sorted(LIMITS)}; filters: {list(FILTERS)}"
            )
        if "alias" not in rule or "op" not in rule:
            raise GateError(f"{where}: 'alias' and 'op' are required ('*' = any)")
        if not any(k in rule for k in LIMITS):
            raise GateError(f"{where}: no limit; set one of {sorted(LIMITS)}")
        for key in LIMITS:
            if key in rule and (isinstance(rule[key], bool) or not isinstance(rule[key], (int, float))):
                raise GateError(f"{where}: {key} must be a number")
    return rules


def _selected(rule: dict[str, Any], row: dict[str, Any]) -> bool:
    if row["layer"] != rule.get("layer", "django"):
        return False
    for key in ("alias", "op", "host", "distribution"):
        if key in rule and rule[key] != "*" and str(rule[key]) != str(row[key]):
            return False
    if "value_size" in rule and int(rule["value_size"]) != int(row["value_size"]):
        return False
    if "concurrency" in rule:
        wanted = str(rule["concurrency"])
        if "x" in wanted:
            return wanted == row["concurrency"]
        return int(wanted) == int(row.get("workers") or 0)
    return True


def _measure(
    metric: str, row: dict[str, Any], ratios: dict[tuple[Any, ...], dict[str, Any]]
) -> dict[str, Any] | float | None:
    latency = row.get("latency_us") or {}
    key = (row["host"], row["alias"], row["op"], row["value_size"], row["distribution"], row["concurrency"])
    if metric == "min_ops_per_s":
        return row.get("ops_per_s")
    if metric in ("max_p99_ms", "max_p50_ms", "max_p99_9_ms"):
        value = latency.get(metric[4:-3])
        return None if value is None else value / 1000
    if metric == "min_raw_ratio":
        return ratios.get((*key, "django/raw"))
    if metric == "min_builtin_ratio":
        return ratios.get((*key, "ours/builtin"))
    if metric == "max_error_ratio":
        total = (row.get("calls") or 0) + (row.get("errors") or 0)
        return (row.get("errors") or 0) / total if total else None
    raise GateError(f"unknown metric {metric}")


def evaluate(
    rules: list[dict[str, Any]], rows: list[dict[str, Any]], ratios: list[dict[str, Any]]
) -> list[Check]:
    """Every check of every rule (rows and ratios carry ``host``)."""
    ratio_index = {
        (r["host"], r["alias"], r["op"], r["value_size"], r["distribution"], r["concurrency"], r["kind"]): r
        for r in ratios
    }
    checks: list[Check] = []
    for rule in rules:
        selected = [row for row in rows if _selected(rule, row)]
        limits = [k for k in LIMITS if k in rule]
        if not selected:
            for metric in limits:
                where = ", ".join(f"{k}={rule[k]}" for k in FILTERS if k in rule and k not in ("alias", "op"))
                checks.append(
                    Check(
                        str(rule.get("host", "*")),
                        str(rule["alias"]),
                        str(rule["op"]),
                        f"no result ({where or 'any'})",
                        LIMITS[metric][0],
                        float(rule[metric]),
                        None,
                        False,
                    )
                )
            continue
        for row in selected:
            where = f"{row['value_size']}B {row['distribution']} {row['concurrency']}"
            for metric in limits:
                limit = float(rule[metric])
                found = _measure(metric, row, ratio_index)
                noisy = isinstance(found, dict) and bool(found.get("noisy"))
                measured = found.get("ratio") if isinstance(found, dict) else found
                if noisy:
                    passed = True
                elif measured is None:
                    passed = False
                elif LIMITS[metric][1] == "min":
                    passed = measured >= limit
                else:
                    passed = measured <= limit
                checks.append(
                    Check(
                        row["host"],
                        row["alias"],
                        row["op"],
                        where,
                        LIMITS[metric][0],
                        limit,
                        measured,
                        passed,
                        noisy,
                    )
                )
    return checks


def misses(checks: list[Check]) -> list[Check]:
    """The checks that failed (a noisy ratio is not one)."""
    return [c for c in checks if not c.passed]


def status(check: Check) -> str:
    """ok, MISSED or noisy."""
    if check.noisy:
        return "noisy"
    return "ok" if check.passed else "MISSED"


def fmt_value(value: float | None) -> str:
    if value is None:
        return "no result"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(checks: list[Check], markdown: bool = False) -> str:
    """The checks as a text table (or a Markdown table)."""
    header = ("host", "alias", "op", "where", "metric", "limit", "measured", "status")
    rows = [header] + [
        (
            c.host,
            c.alias,
            c.op,
            c.where,
            c.metric,
            fmt_value(c.limit),
            fmt_value(c.measured),
            status(c),
        )
        for c in checks
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)

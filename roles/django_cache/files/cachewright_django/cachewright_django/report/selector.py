"""Rank Django cache backends from a user's requirements, with the reason for every point.

    python -m cachewright_django.report.selector --performance --persistence --distributed
        [--report RESULT_DIR] [--json]

The seed's CacheBackendSelector, corrected (bench/README.md): the database cache is
shared by every app server, so it counts as distributed; local memory is per process,
so it is penalised when the cache must be shared; Redis persistence depends on its
RDB/AOF settings; memcached and local memory lose everything on restart.

With ``--report`` (a run directory or one result JSON) the performance criterion uses
the measured GET throughput and p99 of the deployed aliases of each backend kind
instead of the static estimate; backends that were not measured keep the estimate and
say so.

Exit status: 0; 2 on unusable input (unreadable report).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachewright_django.report.resultset import ResultError, concurrency_order, load_run

BACKENDS = ("redis", "memcached", "database", "filesystem", "locmem")
CRITERIA = ("performance", "persistence", "simple_setup", "features", "distributed")

# criterion -> backend -> (points, reason). Points: -3 (rules it out) .. +3 (best).
PROFILE: dict[str, dict[str, tuple[int, str]]] = {
    "performance": {
        "redis": (3, "in-memory server: one network round trip per call, sub-millisecond on a LAN"),
        "memcached": (3, "in-memory server: one network round trip per call, sub-millisecond on a LAN"),
        "locmem": (3, "in-process dictionary: no network at all (but see distributed)"),
        "database": (1, "an SQL query per call, on the database the site already loads"),
        "filesystem": (1, "a file open/read/unpickle per call; slow on network filesystems"),
    },
    "persistence": {
        "redis": (2, "survives a restart when RDB snapshots or AOF are enabled in redis.conf"),
        "database": (3, "rows in the database: survive restarts and are in its backups"),
        "filesystem": (2, "files survive restarts, on one host only"),
        "memcached": (-2, "memory only: a restart empties it"),
        "locmem": (-2, "memory of one process: gone when the worker restarts"),
    },
    "simple_setup": {
        "locmem": (3, "nothing to run or configure"),
        "filesystem": (2, "one directory (mode 0700, never under MEDIA_ROOT/STATIC_ROOT)"),
        "database": (2, "createcachetable on the existing database"),
        "memcached": (1, "one daemon with little configuration"),
        "redis": (0, "a daemon to configure, secure (ACL, TLS) and size; this kit automates it"),
    },
    "features": {
        "redis": (3, "atomic incr, TTL queries, locks, key patterns and data structures via django-redis"),
        "memcached": (1, "atomic incr and touch; no key listing"),
        "database": (1, "the Django cache API only"),
        "locmem": (1, "the Django cache API only"),
        "filesystem": (0, "the Django cache API only; incr is not atomic across processes"),
    },
    "distributed": {
        "redis": (3, "one shared cache for every app server; replicas, Sentinel or Cluster"),
        "memcached": (3, "one shared pool for every app server (client-side hashing)"),
        "database": (2, "shared through the database by every app server, adding load to it"),
        "filesystem": (-2, "per host unless on a shared filesystem (slow, racy)"),
        "locmem": (-3, "per process: every worker has its own copy and invalidations are not shared"),
    },
}


@dataclass
class Score:
    """One backend's total and the reason for each criterion's points."""

    backend: str
    points: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Sum over the requested criteria."""
        return round(sum(self.points.values()), 2)


@dataclass(frozen=True)
class Measured:
    """The best measured GET of a backend kind in a benchmark run."""

    kind: str
    alias: str
    host: str
    ops_per_s: float
    p99_ms: float | None
    concurrency: str
    value_size: int


def measured_performance(results_path: Path) -> dict[str, Measured]:
    """Best Django-layer GET per backend kind: smallest value size, uniform keys if run,
    highest concurrency; the best alias of a kind is the one with the most ops/s."""
    run = load_run(results_path)
    best: dict[str, Measured] = {}
    for host in run.hosts:
        doc = run.docs[host]
        kinds = {alias: info.get("kind") for alias, info in doc.get("aliases", {}).items()}
        gets = [
            r
            for r in doc.get("results", [])
            if r["layer"] == "django" and r["op"] == "get" and r.get("ops_per_s")
        ]
        if not gets:
            continue
        size = min(r["value_size"] for r in gets)
        dists = {r["distribution"] for r in gets}
        dist = "uniform" if "uniform" in dists else sorted(dists)[0]
        sliced = [r for r in gets if r["value_size"] == size and r["distribution"] == dist]
        top = concurrency_order(r["concurrency"] for r in sliced)[-1]
        for r in sliced:
            kind = kinds.get(r["alias"])
            if r["concurrency"] != top or kind not in BACKENDS:
                continue
            p99 = (r.get("latency_us") or {}).get("p99")
            candidate = Measured(
                kind, r["alias"], host, float(r["ops_per_s"]), None if p99 is None else p99 / 1000, top, size
            )
            if kind not in best or candidate.ops_per_s > best[kind].ops_per_s:
                best[kind] = candidate
    return best


def rank(requirements: Sequence[str], measured: dict[str, Measured] | None = None) -> list[Score]:
    """Scores of every backend for the requested criteria, best first (ties: BACKENDS order)."""
    unknown = [r for r in requirements if r not in CRITERIA]
    if unknown:
        raise ValueError(f"unknown requirement(s) {unknown}; choose from {CRITERIA}")
    measured = measured or {}
    scores = {b: Score(b) for b in BACKENDS}
    for criterion in requirements:
        for backend in BACKENDS:
            points, reason = PROFILE[criterion][backend]
            if criterion == "performance" and measured:
                points, reason = _measured_points(backend, measured, points, reason)
            scores[backend].points[criterion] = points
            scores[backend].reasons[criterion] = reason
    return sorted(scores.values(), key=lambda s: (-s.total, BACKENDS.index(s.backend)))


def _measured_points(
    backend: str, measured: dict[str, Measured], static: float, reason: str
) -> tuple[float, str]:
    """3 x (ops/s / best measured ops/s), minus 1 when p99 is over twice the best p99."""
    if backend not in measured:
        return static, f"not measured (static estimate): {reason}"
    mine = measured[backend]
    fastest = max(m.ops_per_s for m in measured.values())
    p99s = [m.p99_ms for m in measured.values() if m.p99_ms is not None]
    points = round(3 * mine.ops_per_s / fastest, 1)
    text = (
        f"measured: alias '{mine.alias}' on {mine.host} GET {mine.ops_per_s:,.0f} ops/s"
        f"{'' if mine.p99_ms is None else f', p99 {mine.p99_ms:.3f} ms'} at {mine.concurrency}, "
        f"{mine.value_size} B ({mine.ops_per_s / fastest:.0%} of the fastest)"
    )
    if mine.p99_ms is not None and p99s and mine.p99_ms > 2 * min(p99s):
        points -= 1
        text += f"; -1: p99 over twice the best ({min(p99s):.3f} ms)"
    return points, text


def render(scores: list[Score], requirements: Sequence[str]) -> str:
    """The ranking as text: a table, then the reasons."""
    header = ["rank", "backend", "score", *requirements]
    rows = [header] + [
        [str(i), s.backend, f"{s.total:g}", *[f"{s.points[c]:+g}" for c in requirements]]
        for i, s in enumerate(scores, 1)
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if not requirements:
        lines.append("(no requirement given: every backend scores 0; pass --performance, --persistence, ...)")
    for s in scores:
        lines.append("")
        lines.append(f"{s.backend}:")
        lines += [f"  {c}: {s.points[c]:+g}  {s.reasons[c]}" for c in requirements]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI; exit 0, or 2 on unusable input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--performance", action="store_true", help="throughput and latency matter most")
    parser.add_argument("--persistence", action="store_true", help="entries should survive a restart")
    parser.add_argument(
        "--simple-setup", action="store_true", help="as little to run and configure as possible"
    )
    parser.add_argument(
        "--features", action="store_true", help="atomic counters, TTL queries, locks, patterns"
    )
    parser.add_argument(
        "--distributed", action="store_true", help="several app servers/processes share the cache"
    )
    parser.add_argument(
        "--report", type=Path, help="a benchmark run directory or result JSON: measured performance"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    requirements = [c for c in CRITERIA if getattr(args, c)]
    measured: dict[str, Measured] = {}
    if args.report:
        try:
            measured = measured_performance(args.report)
        except ResultError as exc:
            print(f"selector: {exc}", file=sys.stderr)
            return 2
    scores = rank(requirements, measured)
    if args.json:
        data: list[dict[str, Any]] = [
            {"rank": i, "backend": s.backend, "score": s.total, "points": s.points, "reasons": s.reasons}
            for i, s in enumerate(scores, 1)
        ]
        print(
            json.dumps({"requirements": requirements, "measured": bool(measured), "ranking": data}, indent=2)
        )
    else:
        print(render(scores, requirements))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render a cachebench run as ``report.md``, ``report.html`` and its figures (PNG and SVG).

    python -m cachewright_django.report RESULT_DIR [--previous PREV_DIR | --no-previous]
        [--gates gates.yml] [--out DIR]

RESULT_DIR holds one JSON document per app host (``manage.py cachebench --json``),
normally ``<results root>/<inventory>/<timestamp>/``. Without ``--previous`` the previous
run is the latest sibling directory older than RESULT_DIR. Every figure is drawn by
matplotlib and written next to the report as ``figure-NN-*.png`` and ``.svg``; report.md
links the PNGs, report.html (a Jinja2 template of this package) inlines the SVGs: no
script, no external asset. Every figure states the placement.

Exit status: 0 report written and every gate met; 1 report written but a gate missed
(the table of misses is printed); 2 unusable input (no result, bad JSON, bad gates file).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

from cachewright_django.bench import schema
from cachewright_django.report import gates as gates_mod
from cachewright_django.report.figures import SavedFigure, bar_chart, line_chart, save
from cachewright_django.report.resultset import (
    ResultError,
    RunSet,
    concurrency_order,
    find_previous,
    load_run,
    row_key,
)

# The report's targets: Django GET at least 0.85x a raw redis-py GET on the same path, and
# our django-redis settings at least 1.5x Django's built-in RedisCache GET.
RAW_TARGET = 0.85
BUILTIN_TARGET = 1.5
# A concurrency level's Django GET ops/s at least this share of the level before it: more
# workers may add little, they must not collapse the alias.
SCALING_TARGET = 0.5
# Between the two ends of a range: an en dash.
RANGE_DASH = "\u2013"
# Between what an alias's server was and what it is: an arrow.
CHANGE_ARROW = "\u2192"
CEILING_LAYERS = ("raw-redis-py", "raw-pymemcache", "raw-pylibmc", "builtin-redis", "redis-benchmark")


# ---------------------------------------------------------------- formatting


# The headers of ident_cells' columns.
IDENT_HEADER = ["host", "alias", "layer", "op", "size B", "dist", "conc"]


def ident_cells(r: dict[str, Any]) -> list[str]:
    """The columns that name a measurement: host, alias, layer, op, size, distribution, concurrency."""
    names = (r["host"], r["alias"], r["layer"], r["op"], str(r["value_size"]), r["distribution"])
    return [*names, r["concurrency"]]


def fmt_ops(value: float | None) -> str:
    """12,345 (ops/s)."""
    return "-" if value is None else f"{value:,.0f}"


def fmt_ms(us: float | None) -> str:
    """Microseconds shown as milliseconds: 0.086, 2.45, 31.2."""
    if us is None:
        return "-"
    ms = us / 1000
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def fmt_ratio(value: float | None) -> str:
    """0.93."""
    return "-" if value is None else f"{value:.2f}"


def fmt_spread(low: float | None, high: float | None, fmt: Any) -> str:
    """`` (11,900-12,700)``: the repetitions' minimum and maximum, empty when unknown or equal."""
    if low is None or high is None or fmt(low) == fmt(high):
        return ""
    return f" ({fmt(low)}{RANGE_DASH}{fmt(high)})"


def fmt_figure(row: dict[str, Any], name: str) -> str:
    """A result's median with its spread: ops/s, or a latency percentile in ms."""
    spread = (row.get("spread") or {}).get(name) or (None, None)
    if name == "ops_per_s":
        return fmt_ops(row.get("ops_per_s")) + fmt_spread(*spread, fmt_ops)
    value = (row.get("latency_us") or {}).get(name)
    return fmt_ms(value) + (fmt_spread(*spread, fmt_ms) if value is not None else "")


def fmt_ratio_info(info: dict[str, Any] | None) -> str:
    """``0.91 (0.88-0.93)``, ``0.91 noisy (0.70-1.02)``: median of paired runs, range, noise."""
    if not info or info.get("ratio") is None:
        return "-"
    low, high = info.get("ratio_range") or (None, None)
    return (
        fmt_ratio(info["ratio"]) + (" noisy" if info.get("noisy") else "") + fmt_spread(low, high, fmt_ratio)
    )


def fmt_change(value: float | None) -> str:
    """+5.2 %."""
    return "-" if value is None else f"{value:+.1f} %"


def fmt_server_change(host: str, alias: str, before: str, now: str) -> str:
    """``app1 default server: Redis 7.0.15 -> Valkey 8.0.1`` (with an arrow)."""
    return f"{host} {alias} server: {before} {CHANGE_ARROW} {now}"


def fmt_server(info: dict[str, Any]) -> str:
    """An alias's server label; ``unknown`` when it could not be read, ``-`` when not recorded."""
    if schema.ALIAS_SERVER not in info:
        return "-"
    return schema.alias_server(info) or "unknown"


def pct_change(now: float | None, before: float | None) -> float | None:
    """Percent change from before to now (None when either is missing or before is 0)."""
    if now is None or not before:
        return None
    return (now - before) / before * 100


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table (pipes in cells escaped)."""

    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell_class(text: str, column: int, numeric_from: int = 0, lower_is_better: Iterable[int] = ()) -> str:
    """The CSS classes of an HTML table cell: columns from ``numeric_from`` on are right-aligned;
    MISSED/below cells and changes marked (a rise is good, except in ``lower_is_better``
    columns such as p99)."""
    classes = []
    if numeric_from and column >= numeric_from:
        classes.append("num")
    change = text.endswith(" %") and text[:1] in "+-"
    rise = change and text.startswith("+")
    if text in ("MISSED", "below") or (change and rise == (column in set(lower_is_better))):
        classes.append("bad")
    elif text in ("ok", "meets") or change:
        classes.append("good")
    return " ".join(classes)


# ---------------------------------------------------------------- the report model


@dataclass
class Section:
    """A titled table, rendered in both formats."""

    title: str
    header: list[str]
    rows: list[list[str]]
    numeric_from: int = 0
    intro: str = ""
    lower_is_better: tuple[int, ...] = ()


@dataclass
class _Slice:
    """One host's rows at one value size and key distribution, and the caption context."""

    all_rows: list[dict[str, Any]]
    size: int
    dist: str
    context: str  # host, CPUs and placement

    def django(self) -> list[dict[str, Any]]:
        """Django-layer rows of the slice."""
        return [r for r in self.all_rows if r["layer"] == "django" and self._in(r)]

    def rows_of(self, alias: str) -> list[dict[str, Any]]:
        """Every layer's rows of one alias in the slice."""
        return [r for r in self.all_rows if r["alias"] == alias and self._in(r)]

    def _in(self, row: dict[str, Any]) -> bool:
        return row["value_size"] == self.size and row["distribution"] == self.dist


def _get(by_level: dict[str, dict[str, Any]], level: str, name: str) -> float | None:
    """ops_per_s (or a latency percentile) of the row at a concurrency level."""
    row = by_level.get(level) or {}
    return row.get(name) if name in row else (row.get("latency_us") or {}).get(name)


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000


class Report:
    """Everything derived from a run (and its previous run, and the gates)."""

    def __init__(
        self, run: RunSet, previous: RunSet | None = None, checks: list[gates_mod.Check] | None = None
    ) -> None:
        self.run = run
        self.previous = previous
        self.checks = checks
        self.rows = run.rows()
        self.ratio_index = {
            (
                r["host"],
                r["alias"],
                r["op"],
                r["value_size"],
                r["distribution"],
                r["concurrency"],
                r["kind"],
            ): r
            for r in run.ratios()
        }
        self.previous_index = previous.index() if previous else {}

    # -------------------------------------------------------- lookups

    def ratio_info(self, row: dict[str, Any], kind: str) -> dict[str, Any] | None:
        """The Django/raw or ours/builtin ratio of a Django row: median, range, noisy."""
        key = (
            row["host"],
            row["alias"],
            row["op"],
            row["value_size"],
            row["distribution"],
            row["concurrency"],
        )
        return self.ratio_index.get((*key, kind))

    def ratio(self, row: dict[str, Any], kind: str) -> float | None:
        """The Django/raw or ours/builtin ratio of a Django row (the median of its pairs)."""
        return (self.ratio_info(row, kind) or {}).get("ratio")

    def change(self, row: dict[str, Any]) -> float | None:
        """Percent change of ops/s against the previous run."""
        before = self.previous_index.get(row_key(row))
        return pct_change(row.get("ops_per_s"), before.get("ops_per_s")) if before else None

    def django_rows(self) -> list[dict[str, Any]]:
        """Results of the Django layer in a stable order."""
        return self._ordered(r for r in self.rows if r["layer"] == "django")

    def _ordered(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = list(rows)
        conc = {c: i for i, c in enumerate(concurrency_order(r["concurrency"] for r in rows))}
        aliases = {a: i for h in self.run.hosts for i, a in enumerate(self.run.docs[h].get("aliases", {}))}
        ops = {o: i for i, o in enumerate(dict.fromkeys(r["op"] for r in rows))}
        layers = {layer: i for i, layer in enumerate(("django", *CEILING_LAYERS))}
        return sorted(
            rows,
            key=lambda r: (
                r["host"],
                aliases.get(r["alias"], 99),
                r["alias"],
                layers.get(r["layer"], 99),
                r["value_size"],
                r["distribution"],
                ops[r["op"]],
                conc[r["concurrency"]],
            ),
        )

    # -------------------------------------------------------- sections

    def summary_lines(self) -> list[str]:
        """Run, hosts, parameters, placement."""
        lines = [f"Result directory: `{self.run.path}`", self.run.placement_text() + "."]
        for host in self.run.hosts:
            doc = self.run.docs[host]
            p = doc.get("parameters", {})
            lines.append(
                f"{host}: run `{doc.get('run_id')}` {doc.get('started_at')} -> {doc.get('finished_at')}; "
                f"{p.get('repetitions', 1)} repetitions of {p.get('duration')} s measured after "
                f"{p.get('warmup')} s warm-up, "
                f"{p.get('keys')} keys, batch {p.get('batch')}, "
                f"concurrency {', '.join(p.get('concurrency', []))} (processes x threads), "
                f"max rate {p.get('max_rate') or 'none'}."
            )
        lines += self._server_lines()
        if self.previous:
            lines.append(f"Compared with the previous run `{self.previous.path}`.")
            lines += [f"{change} (changed since the previous run)." for change in self.server_changes()]
        else:
            lines.append("No previous run to compare with.")
        lines.append(
            "Latencies are in milliseconds, percentiles by nearest rank over every measured call of a "
            "run; every figure is the median of the repetitions, (min-max) beside it; ratios divide "
            "the Django layer's ops/s by the other layer's at the same op, value size, key "
            "distribution and concurrency, run next to each other (median of the pairs)."
        )
        return lines

    def _server_lines(self) -> list[str]:
        """``Servers measured from app1: default = Valkey 8.1.1, sessions = memcached 1.6.18.``
        for each host whose document records them."""
        lines = []
        for host in self.run.hosts:
            aliases = self.run.docs[host].get("aliases", {})
            labels = [
                f"{alias} = {fmt_server(info)}" for alias, info in aliases.items() if fmt_server(info) != "-"
            ]
            if labels:
                lines.append(f"Servers measured from {host}: {', '.join(labels)}.")
        return lines

    def server_changes(self) -> list[str]:
        """One line per alias of both runs whose server differs (an alias whose server is
        unknown in either run is not counted as a change)."""
        if not self.previous:
            return []
        before = self.previous.servers()
        changes = []
        for (host, alias), now in self.run.servers().items():
            was = before.get((host, alias))
            if now and was and was != now:
                changes.append(fmt_server_change(host, alias, was, now))
        return changes

    def targets(self) -> Section:
        """The two ratio targets of the issue, per Redis alias and slice (GET)."""
        rows = []
        for row in self.django_rows():
            if row["op"] != "get":
                continue
            for kind, target in (("django/raw", RAW_TARGET), ("ours/builtin", BUILTIN_TARGET)):
                info = self.ratio_info(row, kind)
                value = (info or {}).get("ratio")
                if info is None or value is None:
                    continue
                status = "meets" if value >= target else "below"
                rows.append(
                    [
                        row["host"],
                        row["alias"],
                        kind,
                        f"{row['value_size']}",
                        row["distribution"],
                        row["concurrency"],
                        fmt_ratio_info(info),
                        f">= {target}",
                        "noisy" if info.get("noisy") else status,
                    ]
                )
        rows += self._scaling_rows()
        return Section(
            "Targets (GET)",
            ["host", "alias", "ratio", "size B", "dist", "conc", "measured", "target", "status"],
            rows,
            6,
            "Django GET against a raw GET loop of the client library the alias uses, on the same "
            "servers (target 0.85), and our django-redis settings against Django's built-in "
            "RedisCache (target 1.5). Each ratio is the median of the paired repetitions with their "
            "range; one whose pairs lie more than 10 % from it is noisy: neither met nor missed. "
            f"Scaling: each concurrency level's Django GET ops/s over the level before it (target "
            f"{SCALING_TARGET}: no collapse under concurrency). Figures, not tests.",
        )

    def _scaling_rows(self) -> list[list[str]]:
        """Django GET ops/s of each concurrency level over the level before it, per alias."""
        rows = []
        gets = [r for r in self.django_rows() if r["op"] == "get"]
        series: dict[tuple[str, str, int, str], list[dict[str, Any]]] = {}
        for r in gets:  # django_rows() is ordered by concurrency within an alias and slice
            series.setdefault((r["host"], r["alias"], r["value_size"], r["distribution"]), []).append(r)
        for (host, alias, size, dist), levels in series.items():
            for before, now in itertools.pairwise(levels):
                if not before.get("ops_per_s") or now.get("ops_per_s") is None:
                    continue
                share = now["ops_per_s"] / before["ops_per_s"]
                rows.append(
                    [
                        host,
                        alias,
                        "scaling",
                        str(size),
                        dist,
                        f"{now['concurrency']} / {before['concurrency']}",
                        fmt_ratio(share),
                        f">= {SCALING_TARGET}",
                        "meets" if share >= SCALING_TARGET else "below",
                    ]
                )
        return rows

    def django_section(self) -> Section:
        """Throughput and latency of every Django-layer run."""
        rows = []
        for r in self.django_rows():
            rows.append(
                [
                    r["host"],
                    r["alias"],
                    r["op"],
                    str(r["value_size"]),
                    r["distribution"],
                    r["concurrency"],
                    fmt_figure(r, "ops_per_s"),
                    fmt_figure(r, "p50"),
                    fmt_figure(r, "p95"),
                    fmt_figure(r, "p99"),
                    fmt_figure(r, "p99_9"),
                    str(r.get("errors", 0)),
                    fmt_ratio_info(self.ratio_info(r, "django/raw")),
                    fmt_ratio_info(self.ratio_info(r, "ours/builtin")),
                    fmt_change(self.change(r)),
                ]
            )
        return Section(
            "Django layer: throughput and latency",
            [
                "host",
                "alias",
                "op",
                "size B",
                "dist",
                "conc",
                "ops/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "p99.9 ms",
                "errors",
                "Django/raw",
                "ours/builtin",
                "vs previous",
            ],
            rows,
            6,
        )

    def ceiling_section(self) -> Section:
        """Raw loops, the built-in RedisCache and redis-benchmark."""
        rows = []
        for r in self._ordered(r for r in self.rows if r["layer"] in CEILING_LAYERS):
            rows.append(
                [
                    *ident_cells(r),
                    fmt_figure(r, "ops_per_s"),
                    fmt_figure(r, "p50"),
                    fmt_figure(r, "p99"),
                    str(r.get("errors", 0)),
                    fmt_change(self.change(r)),
                ]
            )
        return Section(
            "Ceilings: raw clients, built-in RedisCache, redis-benchmark",
            [
                *IDENT_HEADER,
                "ops/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "vs previous",
            ],
            rows,
            7,
            "redis-benchmark: cN = N clients, uniform keys of the run's own prefix, from the app host.",
        )

    def change_section(self) -> Section | None:
        """Every measurement found in both runs: ops/s and p99 change."""
        if not self.previous:
            return None
        rows = []
        for r in self._ordered(self.rows):
            before = self.previous_index.get(row_key(r))
            if not before:
                continue
            lat, old_lat = r.get("latency_us") or {}, before.get("latency_us") or {}
            rows.append(
                [
                    *ident_cells(r),
                    fmt_ops(before.get("ops_per_s")),
                    fmt_ops(r.get("ops_per_s")),
                    fmt_change(pct_change(r.get("ops_per_s"), before.get("ops_per_s"))),
                    fmt_ms(old_lat.get("p99")),
                    fmt_ms(lat.get("p99")),
                    fmt_change(pct_change(lat.get("p99"), old_lat.get("p99"))),
                ]
            )
        return Section(
            "Change against the previous run",
            [
                *IDENT_HEADER,
                "ops/s before",
                "ops/s now",
                "ops/s change",
                "p99 ms before",
                "p99 ms now",
                "p99 change",
            ],
            rows,
            7,
            f"Previous run: {self.previous.path}. For p99 a rise (+) is worse." + self._server_change_text(),
            (12,),
        )

    def _server_change_text(self) -> str:
        """The sentence naming the aliases whose server changed (empty when none did)."""
        changes = self.server_changes()
        return f" Measured on another server than before: {'; '.join(changes)}." if changes else ""

    def environment_section(self) -> Section:
        """Where each host's run happened."""
        rows = []
        for host in self.run.hosts:
            env = self.run.docs[host]["environment"]
            libs = env.get("libraries", {})
            cpu = env.get("cpu", {})
            load = [
                " ".join(str(x) for x in (env.get(k) or [])) or "-" for k in ("loadavg_start", "loadavg_end")
            ]
            hiredis = libs.get("hiredis") or "no"
            if env.get("hiredis_available"):
                hiredis += " (used)"
            rows.append(
                [
                    host,
                    f"{cpu.get('count')} ({cpu.get('usable')} usable)",
                    f"{load[0]} -> {load[1]}",
                    str(env.get("platform")),
                    str(env.get("python")),
                    str(libs.get("django") or "-"),
                    str(libs.get("django-redis") or "-"),
                    str(libs.get("redis") or "-"),
                    hiredis,
                    str(libs.get("pymemcache") or "-"),
                    str(libs.get("pylibmc") or "-"),
                    str(env.get("placement")),
                ]
            )
        return Section(
            "Environment",
            [
                "host",
                "CPUs",
                "load avg start -> end",
                "platform",
                "python",
                "django",
                "django-redis",
                "redis",
                "hiredis",
                "pymemcache",
                "pylibmc",
                "placement",
            ],
            rows,
        )

    def alias_section(self) -> Section:
        """What each alias is (backend, TLS, topology, parser)."""
        rows = []
        for host in self.run.hosts:
            for alias, info in self.run.docs[host].get("aliases", {}).items():
                target = info.get("raw_target") or {}
                tls = info.get("tls")
                servers = target.get("servers") or (
                    [f"{target['primary']['host']}:{target['primary']['port']}"]
                    if target.get("primary")
                    else []
                )
                rows.append(
                    [
                        host,
                        alias,
                        str(info.get("backend")),
                        str(info.get("client_class") or "-"),
                        str(info.get("kind")),
                        fmt_server(info),
                        "-" if tls is None else ("on" if tls else "off"),
                        str(target.get("topology") or "-"),
                        str(target.get("parser") or "-"),
                        ", ".join(servers) or "-",
                        str(info.get("raw_skipped") or "-"),
                    ]
                )
        return Section(
            "Aliases",
            [
                "host",
                "alias",
                "backend",
                "client class",
                "kind",
                "server",
                "TLS",
                "topology",
                "parser",
                "servers",
                "raw ceiling",
            ],
            rows,
        )

    def gates_section(self) -> Section | None:
        """Every gate check (misses first)."""
        if self.checks is None:
            return None
        ordered = sorted(self.checks, key=lambda c: c.passed)
        missed = len(gates_mod.misses(self.checks))
        rows = [
            [
                c.host,
                c.alias,
                c.op,
                c.where,
                c.metric,
                gates_mod.fmt_value(c.limit),
                gates_mod.fmt_value(c.measured),
                gates_mod.status(c),
            ]
            for c in ordered
        ]
        return Section(
            "Gates",
            ["host", "alias", "op", "where", "metric", "limit", "measured", "status"],
            rows,
            5,
            f"{len(self.checks)} checks, {missed} missed." if self.checks else "No gate selected a result.",
        )

    def notes_section(self) -> Section:
        """Skipped parts and notes of the runs."""
        rows = []
        for host in self.run.hosts:
            doc = self.run.docs[host]
            rows += [
                [host, "skipped", f"{s['alias']} {s['layer']} {s.get('op') or ''}".strip(), s["reason"]]
                for s in doc.get("skipped", [])
            ]
            rows += [[host, "note", "", n] for n in doc.get("notes", [])]
            rows += [
                [
                    host,
                    "error",
                    f"{r['alias']} {r['layer']} {r['op']} {r['concurrency']}",
                    f"{r['errors']} failed calls, first: {r.get('first_error')}",
                ]
                for r in doc.get("results", [])
                if r.get("errors")
            ]
        return Section("Skipped, notes and errors", ["host", "what", "where", "detail"], rows)

    def sections(self) -> list[Section]:
        """Every table in report order."""
        found = [
            self.gates_section(),
            self.targets(),
            self.django_section(),
            self.ceiling_section(),
            self.change_section(),
            self.environment_section(),
            self.alias_section(),
            self.notes_section(),
        ]
        return [s for s in found if s is not None]

    # -------------------------------------------------------- figures

    def figures(self) -> list[tuple[Figure, str]]:
        """(figure, caption) of every plot: per host, value size and key distribution."""
        figures = []
        for host in self.run.hosts:
            env = self.run.docs[host]["environment"]
            rows = [r for r in self.rows if r["host"] == host]
            django = [r for r in rows if r["layer"] == "django"]
            if not django:
                continue
            cpus = env.get("cpu", {}).get("count")
            context = f"host {host}, {cpus} CPUs. Placement: {env.get('placement') or 'not stated'}"
            for size in sorted({r["value_size"] for r in django}):
                for dist in sorted({r["distribution"] for r in django}):
                    part = _Slice(rows, size, dist, context)
                    figures += self._throughput_and_latency(part)
                    for alias in dict.fromkeys(r["alias"] for r in self._ordered(part.django())):
                        figures += self._scaling(part, alias)
            figures += self._ratio_figures(django, context)
        return figures

    def _throughput_and_latency(self, part: _Slice) -> list[tuple[Figure, str]]:
        rows = part.django()
        if not rows:
            return []
        top = concurrency_order(r["concurrency"] for r in rows)[-1]
        at_top = {(r["alias"], r["op"]): r for r in self._ordered(rows) if r["concurrency"] == top}
        aliases = list(dict.fromkeys(a for a, _unused in at_top))
        ops = list(dict.fromkeys(o for _unused, o in at_top))
        subtitle = f"{part.size} B values, {part.dist} keys, concurrency {top}, {part.context}"
        throughput = {(a, o): r.get("ops_per_s") for (a, o), r in at_top.items()}
        fig1 = bar_chart(
            f"Throughput per alias and op (Django layer, {top})",
            subtitle,
            aliases,
            ops,
            throughput,
            y_label="calls/s",
        )
        names = {"p50": "p50", "p95": "p95", "p99": "p99", "p99_9": "p99.9"}
        latency = {
            (f"{a} {o}", label): (r.get("latency_us") or {})[key] / 1000
            for (a, o), r in at_top.items()
            for key, label in names.items()
            if (r.get("latency_us") or {}).get(key)
        }
        groups = [f"{a} {o}" for a, o in at_top]
        title = f"Latency percentiles per alias and op (Django layer, {top})"
        fig2 = bar_chart(title, subtitle, groups, list(names.values()), latency, y_label="ms", log=True)
        return [
            (fig1, f"Throughput (calls per second) per alias and operation; {subtitle}"),
            (fig2, f"Latency percentiles p50/p95/p99/p99.9 in ms (log scale) from every call; {subtitle}"),
        ]

    def _scaling(self, part: _Slice, alias: str) -> list[tuple[Figure, str]]:
        mine = [r for r in part.rows_of(alias) if r["layer"] != "redis-benchmark"]
        levels = concurrency_order(r["concurrency"] for r in mine)
        if len(levels) < 2:
            return []
        by_series: dict[str, dict[str, dict[str, Any]]] = {}
        for r in self._ordered(mine):
            by_series.setdefault(f"{r['layer']} {r['op']}", {})[r["concurrency"]] = r
        ops_series = {name: [_get(s, c, "ops_per_s") for c in levels] for name, s in by_series.items()}
        p99_series = {name: [_ms(_get(s, c, "p99")) for c in levels] for name, s in by_series.items()}
        bench = [
            r
            for r in part.all_rows
            if r["alias"] == alias
            and r["layer"] == "redis-benchmark"
            and r["value_size"] == part.size
            and r.get("ops_per_s")
        ]  # redis-benchmark keys are uniform whatever the distribution
        ops_refs = [(r["ops_per_s"], f"redis-benchmark {r['op'].upper()} -c {r['workers']}") for r in bench]
        p99_refs = [
            (
                (r.get("latency_us") or {})["p99"] / 1000,
                f"redis-benchmark {r['op'].upper()} p99 -c {r['workers']}",
            )
            for r in bench
            if (r.get("latency_us") or {}).get("p99")
        ]
        subtitle = f"alias {alias}, {part.size} B, {part.dist} keys, {part.context}"
        x_label = "concurrency (processes x threads)"
        fig1 = line_chart(
            f"Scaling: throughput over concurrency ({alias})",
            subtitle,
            levels,
            ops_series,
            y_label="calls/s",
            x_label=x_label,
            refs=ops_refs,
        )
        fig2 = line_chart(
            f"Scaling: p99 latency over concurrency ({alias})",
            subtitle,
            levels,
            p99_series,
            y_label="p99 ms",
            x_label=x_label,
            log=True,
            refs=p99_refs,
        )
        ceiling = "; dashed: redis-benchmark from the same app host (the server's ceiling)" if bench else ""
        return [
            (fig1, f"Throughput at each concurrency{ceiling}; {subtitle}"),
            (fig2, f"p99 latency at each concurrency (log scale){ceiling}; {subtitle}"),
        ]

    def _ratio_figures(self, django: list[dict[str, Any]], context: str) -> list[tuple[Figure, str]]:
        figures = []
        for kind, target, label in (
            ("django/raw", RAW_TARGET, "Django layer / raw client ops/s"),
            ("ours/builtin", BUILTIN_TARGET, "django-redis alias / built-in RedisCache ops/s"),
        ):
            values = {}
            for r in self._ordered(django):
                ratio = self.ratio(r, kind)
                if ratio is not None:
                    group = f"{r['alias']} {r['op']} {r['value_size']}B {r['distribution']}"
                    values[(group, r["concurrency"])] = ratio
            if not values:
                continue
            groups = list(dict.fromkeys(g for g, _unused in values))
            levels = concurrency_order(c for _unused, c in values)
            refs = [(1.0, "parity (1.0)"), (target, f"target {target}")]
            title = f"{label} per alias and op"
            fig = bar_chart(title, context, groups, levels, values, y_label="ratio", refs=refs)
            figures.append((fig, f"{label}, one bar per concurrency (processes x threads); {context}"))
        return figures

    # -------------------------------------------------------- output

    def markdown(self, figures: Sequence[SavedFigure] = ()) -> str:
        """report.md (the figures as links to their PNG files)."""
        parts = ["# Cache benchmark report", "", *[f"- {line}" for line in self.summary_lines()], ""]
        parts.append("Plots (throughput, latency percentiles, Django/raw ratio, scaling): see report.html.")
        for section in self.sections():
            parts += ["", f"## {section.title}", ""]
            if section.intro:
                parts += [section.intro, ""]
            parts.append(md_table(section.header, section.rows) if section.rows else "(none)")
        if figures:
            parts += ["", "## Figures", ""]
            parts += [f"![{f.caption}]({f.name}.png) ([SVG]({f.name}.svg))\n" for f in figures]
        return "\n".join(parts).rstrip("\n") + "\n"

    def html(self, figures: Sequence[SavedFigure] = ()) -> str:
        """report.html from the package's template: self-contained, inline SVG, no script."""
        sections = self.sections()
        return TEMPLATES.get_template(
            "report.html.j2"
        ).render(
            title="Cache benchmark report",
            summary=[line.replace("`", "") for line in self.summary_lines()],
            first=sections[:2],  # gates and targets first
            rest=sections[2:],
            figures=figures,
        )


# The HTML page's template (package data): autoescaped, a missing variable is an error.
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("cachewright_django.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.globals["cell_class"] = cell_class


def write(report: Report, out: Path) -> None:
    """report.md, report.html and the figures' PNG and SVG files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    figures = save(report.figures(), out)
    (out / "report.md").write_text(report.markdown(figures), encoding="utf-8")
    (out / "report.html").write_text(report.html(figures), encoding="utf-8")


# ---------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Write the report; exit 0, 1 (gate missed) or 2 (unusable input)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument(
        "result_dir", type=Path, help="run directory (one JSON per app host) or one JSON file"
    )
    parser.add_argument(
        "--previous", type=Path, help="previous run directory (default: latest older sibling)"
    )
    parser.add_argument("--no-previous", action="store_true", help="do not compare with a previous run")
    parser.add_argument("--gates", type=Path, help="gates YAML file (see bench/README.md)")
    parser.add_argument("--out", type=Path, help="where report.md and report.html go (default: RESULT_DIR)")
    args = parser.parse_args(argv)
    try:
        run = load_run(args.result_dir)
        previous = None
        if not args.no_previous:
            prev_path = args.previous or find_previous(args.result_dir)
            previous = load_run(prev_path) if prev_path else None
        checks = None
        if args.gates:
            checks = gates_mod.evaluate(gates_mod.load_gates(args.gates), run.rows(), run.ratios())
    except (ResultError, gates_mod.GateError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    report = Report(run, previous, checks)
    out = args.out or (args.result_dir if args.result_dir.is_dir() else args.result_dir.parent)
    write(report, out)
    print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    print(f"previous run: {previous.path if previous else 'none'}")
    if checks is None:
        return 0
    missed = gates_mod.misses(checks)
    print(f"gates: {len(checks)} checks, {len(missed)} missed")
    if missed:
        print(gates_mod.table(missed))
        return 1
    return 0

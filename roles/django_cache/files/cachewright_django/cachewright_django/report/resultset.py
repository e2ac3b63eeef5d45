"""Reading cachebench result documents on the controller (stdlib only).

The document's schema is :mod:`cachewright_django.bench.schema`, the one the writer uses.

A run directory holds one JSON document per app host (``manage.py cachebench --json``),
stored as ``<results root>/<inventory>/<timestamp>/<host>.json`` (the kit's root:
``bench/results/``). Runs of one inventory sort by their directory name, so the previous
run is the latest sibling directory whose name sorts before this one and that holds at
least one result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachewright_django.bench import schema

# Identity of a measurement across hosts and runs.
RowKey = tuple[
    str, str, str, str, int, str, str
]  # host, alias, layer, op, value_size, distribution, concurrency


class ResultError(Exception):
    """A result directory or document that cannot be used."""


@dataclass
class RunSet:
    """Every host's document of one run, flattened for the report."""

    path: Path
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> document

    @property
    def hosts(self) -> list[str]:
        """Hosts in name order."""
        return sorted(self.docs)

    def rows(self) -> list[dict[str, Any]]:
        """Every result with its ``host`` added."""
        return [{**r, "host": host} for host in self.hosts for r in self.docs[host].get("results", [])]

    def ratios(self) -> list[dict[str, Any]]:
        """Every ratio with its ``host`` added."""
        return [{**r, "host": host} for host in self.hosts for r in self.docs[host].get("ratios", [])]

    def index(self) -> dict[RowKey, dict[str, Any]]:
        """Rows by their identity."""
        return {row_key(r): r for r in self.rows()}

    def servers(self) -> dict[tuple[str, str], str | None]:
        """The server label of each (host, alias), in the documents' order (None: unknown,
        or a document written before the label was recorded)."""
        return {
            (host, alias): schema.alias_server(info)
            for host in self.hosts
            for alias, info in self.docs[host].get("aliases", {}).items()
        }

    def placements(self) -> dict[str, str]:
        """Placement text per host."""
        return {h: str(self.docs[h].get("placement") or "not stated") for h in self.hosts}

    def placement_text(self) -> str:
        """One line naming the placement (per host when they differ)."""
        places = self.placements()
        distinct = sorted(set(places.values()))
        if len(distinct) == 1:
            return f"Placement: {distinct[0]}"
        return "Placement: " + "; ".join(f"{h}: {p}" for h, p in places.items())


def row_key(row: dict[str, Any]) -> RowKey:
    """The identity of a result row (needs ``host``)."""
    return (
        row["host"],
        row["alias"],
        row["layer"],
        row["op"],
        int(row["value_size"]),
        row["distribution"],
        row["concurrency"],
    )


def load_document(path: Path) -> dict[str, Any]:
    """One result document, checked for the fields the report needs."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultError(f"{path}: not a readable JSON document: {exc}") from exc
    try:
        return schema.check(doc)
    except schema.SchemaError as exc:
        raise ResultError(f"{path}: {exc}") from exc


def load_run(path: Path) -> RunSet:
    """A run directory (every ``*.json`` in it) or a single result file."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise ResultError(f"{path}: no result JSON found")
    run = RunSet(path=path)
    for file in files:
        doc = load_document(file)
        host = str(doc["environment"].get("hostname") or file.stem)
        if host in run.docs:  # two documents of one host: keep both apart
            host = f"{host} ({file.stem})"
        run.docs[host] = doc
    return run


def find_previous(run_dir: Path) -> Path | None:
    """The latest sibling run directory older than ``run_dir`` that holds results."""
    if not run_dir.is_dir():
        return None
    siblings = sorted(
        d for d in run_dir.resolve().parent.iterdir() if d.is_dir() and d.name < run_dir.resolve().name
    )
    for candidate in reversed(siblings):
        if any(candidate.glob("*.json")):
            return candidate
    return None


def concurrency_order(labels: Iterable[str]) -> list[str]:
    """Concurrency labels by total workers (``2x4`` = 8), then by label; ``c50`` last."""

    def workers(label: str) -> tuple[int, int, str]:
        if label.startswith("c") and label[1:].isdigit():
            return (1, int(label[1:]), label)
        p, _unused, t = label.partition("x")
        try:
            return (0, int(p) * int(t or 1), label)
        except ValueError:
            return (2, 0, label)

    return sorted(set(labels), key=workers)


def workers_of(label: str) -> int:
    """Total workers of a concurrency label (``2x4`` -> 8, ``c50`` -> 50, ``8`` -> 8)."""
    if label.startswith("c") and label[1:].isdigit():
        return int(label[1:])
    p, _unused, t = label.partition("x")
    return int(p) * int(t or 1)

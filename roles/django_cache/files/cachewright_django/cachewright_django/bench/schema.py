"""The cachebench result document: its schema name and keys, shared by the writer and the reader.

``manage.py cachebench --json`` (:mod:`cachewright_django.bench.suite`) writes one document
per app host and run; the report on the controller (:mod:`cachewright_django.report`) reads
it. Both take the names from here, so a change of the document is made once. Its fields
are described in bench/README.md ("Result JSON").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FAMILY = "cachewright.cachebench/"
# The version written today: every figure is the median of repetitions, with its spread.
SCHEMA = FAMILY + "2"
# Versions the report reads (/1: one run per figure, no spread).
READABLE = (FAMILY + "1", SCHEMA)

# The document's top-level keys, in the order the writer puts them.
KEYS = (
    "schema",
    "run_id",
    "key_prefix",
    "version",
    "started_at",
    "finished_at",
    "elapsed_s",
    "placement",
    "parameters",
    "environment",
    "aliases",
    "results",
    "ratios",
    "skipped",
    "notes",
)
# What the report cannot do without.
REQUIRED = ("results", "environment", "aliases")
# The key of ``aliases.<alias>`` naming the server software behind the alias: ``Valkey 8.1.1``,
# ``Redis 7.0.15``, ``memcached 1.6.18``, ``Redis 7.0.15 + Valkey 8.1.1`` (servers that differ),
# a backend kind without a server (``local memory``, ``database``, ``filesystem``), or null
# when it could not be read. Optional: documents written before it lack it.
ALIAS_SERVER = "server_software"


class SchemaError(ValueError):
    """A document that is not a readable cachebench result."""


def check(doc: Any) -> dict[str, Any]:
    """The document itself when the report can read it; else SchemaError saying why."""
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise SchemaError(f"not a cachebench result (schema {' or '.join(READABLE)}, found {found!r})")
    for name in REQUIRED:
        if name not in doc:
            raise SchemaError(f"missing {name!r}")
    return doc


def alias_server(info: Any) -> str | None:
    """The server label of an ``aliases.<alias>`` object (None: unknown or not recorded)."""
    value = info.get(ALIAS_SERVER) if isinstance(info, Mapping) else None
    return str(value) if value else None

"""``manage.py cache_roundtrip``: a live round trip on every cache alias (see roundtrip.py)."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cachewright_django.roundtrip import run, summary


class Command(BaseCommand):
    """Check every cache alias with real operations; fail naming the aliases that broke."""

    help = "Round trip (set/get/add/delete, *_many, incr, touch, versions) on every cache alias."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--aliases", nargs="+", help="Only these aliases (default: all of CACHES).")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        results = run(options["aliases"])
        self.stdout.write(json.dumps(results, indent=2) if options["json"] else summary(results))
        failed = [r for r in results if not r["ok"]]
        if failed:
            raise CommandError(
                "cache round trip failed on "
                + "; ".join(f"alias {r['alias']!r} at {r['failed_op']}: {r['error']}" for r in failed)
            )

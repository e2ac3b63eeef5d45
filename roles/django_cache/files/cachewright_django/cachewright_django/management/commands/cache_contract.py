"""``manage.py cache_contract``: Django's cache contract on every alias (see contract.py)."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cachewright_django.contract import failures, run, summary


class Command(BaseCommand):
    """Check every alias against what Django's cache API promises; fail naming what broke."""

    help = "Django's cache contract on every alias (--destructive adds clear(): never on a live cache)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--aliases", nargs="+", help="Only these aliases (default: all of CACHES).")
        parser.add_argument("--destructive", action="store_true", help="Also clear() each alias in turn.")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        results = run(options["aliases"], destructive=options["destructive"])
        self.stdout.write(
            json.dumps(results, indent=2, ensure_ascii=False) if options["json"] else summary(results)
        )
        broken = failures(results)
        if broken:
            raise CommandError("cache contract broken: " + "; ".join(broken))

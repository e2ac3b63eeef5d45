"""``manage.py cachedrill``: writers and checks for a change drill (see cachewright_django.drill)."""

from __future__ import annotations

import json
import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cachewright_django import drill


class Command(BaseCommand):
    """seed, write (until a stop file appears), verify, clean; read-after-write."""

    help = (
        "Measure what a change of the cache tier costs: keys kept, acknowledged writes lost, error windows."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["seed", "write", "verify", "clean", "read-after-write"])
        parser.add_argument("--run", default="", help="Name of the drill (part of every key).")
        parser.add_argument("--aliases", nargs="+", help="Aliases to use (default: every alias of CACHES).")
        parser.add_argument("--keys", type=int, default=0, help="Keys written by seed, checked by verify.")
        parser.add_argument("--phase", default="change", help="Name of the change the writers run through.")
        parser.add_argument("--stop-file", help="write: stop when this file exists.")
        parser.add_argument("--out", help="write: where the record goes (JSON).")
        parser.add_argument("--writes", nargs="*", default=[], help="verify/clean: records of write.")
        parser.add_argument("--interval", type=float, default=0.005, help="write: seconds between writes.")
        parser.add_argument(
            "--follow-settings",
            default="",
            help="write: the settings file to read anew when it changes (as a restarted app would).",
        )
        parser.add_argument(
            "--fresh-connections",
            action="store_true",
            help="write: open a new connection (and log in) for every write, as a password change is felt.",
        )
        parser.add_argument(
            "--invalidate",
            nargs="*",
            default=[],
            help="write: aliases (of --aliases) that also get an app overwriting and deleting keys once "
            "each; verify reads them back for stale values and resurrected deletes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        aliases = options["aliases"] or list(settings.CACHES)
        unknown = sorted(set(aliases) - set(settings.CACHES))
        if unknown:
            raise CommandError(f"unknown cache aliases: {', '.join(unknown)}")
        if set(options["invalidate"]) - set(aliases):
            raise CommandError("--invalidate: name aliases of --aliases")
        records = [json.loads(Path(path).read_text(encoding="utf-8")) for path in options["writes"]]
        action = options["action"]
        if action != "read-after-write" and not options["run"]:
            raise CommandError(f"{action} needs --run")
        if action == "seed":
            result: Any = [drill.seed(alias, options["run"], options["keys"]) for alias in aliases]
        elif action == "write":
            if not options["stop_file"] or not options["out"]:
                raise CommandError("write needs --stop-file and --out")
            stop_file = options["stop_file"]
            result = drill.write(
                aliases,
                options["run"],
                options["phase"],
                lambda: os.path.exists(stop_file),
                options["interval"],
                follow=options["follow_settings"],
                invalidating=options["invalidate"],
                fresh=options["fresh_connections"],
            )
            Path(options["out"]).write_text(drill.dumps(result), encoding="utf-8")
            result = {
                **{
                    alias: {k: v for k, v in log.items() if k != "acknowledged"}
                    for alias, log in result["aliases"].items()
                },
                **{f"{alias} (invalidation)": log for alias, log in result["invalidations"].items()},
            }
        elif action == "read-after-write":
            result = {alias: drill.read_after_write(alias) for alias in aliases}
        elif action == "verify":
            result = drill.verify(options["run"], aliases, options["keys"], records[0] if records else None)
        else:
            result = {"removed": drill.clean(options["run"], aliases, options["keys"], records)}
        self.stdout.write(drill.dumps(result))

"""``manage.py cachebench``: benchmark the cache aliases of this Django project.

Example::

    manage.py cachebench --aliases default sessions --ops get,set,delete,get_many,set_many,incr \\
        --value-size 100,10240 --keys 10000 --duration 5 --warmup 1 --concurrency 1,2,4,8 \\
        --distribution uniform,zipf --compare-builtin default --placement "app and redis share 2 cores" \\
        --json out.json

Progress goes to stderr, the summary table to stdout, the full result to ``--json``
(schema: bench/README.md). Safe on production aliases: own key prefix and version, only
its own keys deleted, never ``clear()``; cap the load with ``--max-rate`` and ``--budget``.
Exit status: 0 done (errors of single calls are in the results), 2 bad arguments.
"""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cachewright_django.bench.suite import BenchOptions, Suite, summary_table
from cachewright_django.bench.workload import DISTRIBUTIONS, parse_concurrency, parse_int_list, parse_ops

DUMMY = "django.core.cache.backends.dummy.DummyCache"


def default_aliases() -> list[str]:
    """Every alias of settings.CACHES except DummyCache ones."""
    return [alias for alias, conf in settings.CACHES.items() if conf.get("BACKEND") != DUMMY]


def add_arguments(parser: ArgumentParser) -> None:
    """The options of the command (shared with the docs in bench/README.md)."""
    parser.add_argument(
        "--aliases", nargs="+", help="cache aliases (default: every alias but DummyCache ones)"
    )
    parser.add_argument(
        "--ops",
        default="get,set",
        help="comma list of get,set,delete,add,incr,touch,"
        "get_many,set_many,delete_many or 'all' (default: get,set)",
    )
    parser.add_argument("--value-size", default="100", help="value sizes in bytes, comma list (default: 100)")
    parser.add_argument("--keys", type=int, default=10_000, help="key space per run (default: 10000)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run (default: 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before (default: 1)")
    parser.add_argument(
        "--repetitions",
        type=int,
        default=3,
        help="runs of each measurement; figures are their median with min-max (default: 3)",
    )
    parser.add_argument(
        "--concurrency",
        default="1",
        help="comma list of N or PxT (processes x threads); "
        "N = the most processes <= CPUs that divide N, e.g. 8 on 2 CPUs = 2x4 (default: 1)",
    )
    parser.add_argument(
        "--distribution", default="uniform", help="comma list of uniform,zipf (default: uniform)"
    )
    parser.add_argument("--zipf-s", type=float, default=0.99, help="zipf exponent (default: 0.99)")
    parser.add_argument(
        "--batch", type=int, default=100, help="keys per get_many/set_many/delete_many (default: 100)"
    )
    parser.add_argument("--raw", action="store_true", default=True, help="raw client loops (default)")
    parser.add_argument("--no-raw", dest="raw", action="store_false", help="no raw loops")
    parser.add_argument("--raw-ops", default="get,set", help="ops measured raw too (default: get,set; 'all')")
    parser.add_argument(
        "--no-redis-benchmark",
        dest="redis_benchmark",
        action="store_false",
        help="do not run redis-benchmark",
    )
    parser.add_argument(
        "--redis-benchmark-clients", default="50", help="redis-benchmark -c, comma list (default: 50)"
    )
    parser.add_argument(
        "--redis-benchmark-requests", type=int, default=100_000, help="redis-benchmark -n (100000)"
    )
    parser.add_argument(
        "--compare-builtin",
        nargs="*",
        default=[],
        metavar="ALIAS",
        help="also run Django's built-in RedisCache on the server of these django-redis aliases",
    )
    parser.add_argument("--compare-ops", default="get", help="ops of the built-in comparison (default: get)")
    parser.add_argument(
        "--max-rate", type=float, help="at most this many calls/s per alias (also skips redis-benchmark)"
    )
    parser.add_argument("--budget", type=float, help="stop starting runs after this many seconds in all")
    parser.add_argument(
        "--placement", help='where client and server run, e.g. "client and server containers share 2 cores"'
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of keys and values (default: 1)")
    parser.add_argument("--json", dest="json_path", help="write the result document here ('-' = stdout)")
    parser.add_argument("--quiet-progress", action="store_true", help="no progress lines on stderr")


def build_options(options: dict[str, Any]) -> BenchOptions:
    """Parsed command options -> BenchOptions (ValueError on bad values)."""
    aliases = options["aliases"] or default_aliases()
    unknown = [a for a in [*aliases, *options["compare_builtin"]] if a not in settings.CACHES]
    if unknown:
        raise ValueError(f"unknown cache alias(es) {unknown}; settings.CACHES has {list(settings.CACHES)}")
    outside = [a for a in options["compare_builtin"] if a not in aliases]
    if outside:
        raise ValueError(f"--compare-builtin {outside}: compare only aliases being benchmarked ({aliases})")
    distributions = [d.strip() for d in options["distribution"].split(",") if d.strip()]
    if not distributions or any(d not in DISTRIBUTIONS for d in distributions):
        raise ValueError(f"--distribution: choose from {', '.join(DISTRIBUTIONS)}")
    for name in ("keys", "batch", "redis_benchmark_requests", "repetitions"):
        if options[name] < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if options["duration"] <= 0 or options["warmup"] < 0:
        raise ValueError("--duration must be > 0 and --warmup >= 0")
    if options["max_rate"] is not None and options["max_rate"] <= 0:
        raise ValueError("--max-rate must be > 0")
    return BenchOptions(
        aliases=list(dict.fromkeys(aliases)),
        ops=parse_ops(options["ops"]),
        value_sizes=parse_int_list(options["value_size"], "--value-size"),
        keys=options["keys"],
        duration=options["duration"],
        warmup=options["warmup"],
        repetitions=options["repetitions"],
        concurrency=[parse_concurrency(c) for c in options["concurrency"].split(",") if c.strip()],
        distributions=distributions,
        zipf_s=options["zipf_s"],
        batch=options["batch"],
        raw=options["raw"],
        raw_ops=parse_ops(options["raw_ops"]),
        redis_benchmark=options["redis_benchmark"],
        redis_benchmark_clients=parse_int_list(
            options["redis_benchmark_clients"], "--redis-benchmark-clients"
        ),
        redis_benchmark_requests=options["redis_benchmark_requests"],
        compare_builtin=list(options["compare_builtin"]),
        compare_ops=parse_ops(options["compare_ops"]),
        max_rate=options["max_rate"],
        budget=options["budget"],
        placement=options["placement"],
        seed=options["seed"],
    )


class Command(BaseCommand):
    help = (
        "Benchmark cache aliases: throughput and p50/p95/p99/p99.9 per op from every sample, "
        "raw redis-py/pymemcache and redis-benchmark ceilings, Django/raw ratio; JSON result."
    )

    # Like createcachetable: the caches are what is measured, not the rest of the project.
    requires_system_checks: ClassVar[list[str]] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            bench_options = build_options(options)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc

        def progress(message: str) -> None:
            if not options["quiet_progress"]:
                print(message, file=sys.stderr, flush=True)

        doc = Suite(bench_options, progress=progress).run()
        text = json.dumps(doc, indent=2, sort_keys=False)
        path = options["json_path"]
        if path == "-":
            self.stdout.write(text)
            return
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text + "\n", encoding="utf-8")
        self.stdout.write(summary_table(doc))
        for note in doc["notes"]:
            self.stdout.write(f"note: {note}")
        if path:
            self.stdout.write(f"result: {path}")

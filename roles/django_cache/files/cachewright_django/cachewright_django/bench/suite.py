"""The whole benchmark: every alias x value size x distribution x op x concurrency x layer,
and the result document (its schema is documented in bench/README.md).

Order: per alias and value size, the layers (Django, the raw client, Django's built-in
RedisCache when compared) take turns at each op and concurrency, repetition after
repetition, so a change of load on the host does not bias their ratio; then redis-benchmark.

Repetitions: every figure is the median of ``repetitions`` runs, with the runs' minimum and
maximum beside it (``spread``) and each run kept in ``runs``. A ratio pairs the runs of
the two layers that ran one after the other and is the median of those pair ratios; it
is ``noisy`` when a pair ratio lies more than :data:`NOISE` from that median, and a noisy
ratio is neither met nor missed. Each layer's keys are
written before the first read that needs them and deleted after the value size. An alias
whose server would have to evict to hold the bench's keys is refused (Suite._memory_check).
"""

from __future__ import annotations

import datetime
import math
import re
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cachewright_django.bench import BENCH_VERSION, KEY_ROOT, schema
from cachewright_django.bench import environment as env
from cachewright_django.bench.raw import (
    MemcachedTarget,
    PyLibMCTarget,
    RedisTarget,
    UnsupportedError,
    backend_kind,
    benchmark_keys,
    builtin_redis_cache,
    class_path,
    raw_target,
    redis_benchmark_binary,
    redis_benchmark_command,
    run_redis_benchmark,
)
from cachewright_django.bench.runner import LoadResult, LoadSpec, Progress, error_text, run_load
from cachewright_django.bench.server import UNKNOWN, alias_server
from cachewright_django.bench.sessions import DjangoSession, KeySpace, Session
from cachewright_django.bench.workload import (
    READ_OPS,
    REMOVING_OPS,
    Concurrency,
    ZipfTable,
    keys_per_call,
    make_value,
)

CLEANUP_BATCH = 100
# A ratio whose paired runs lie further than this from their median is noisy (+-10 %).
NOISE = 0.10
# The latency percentiles whose spread over the repetitions is recorded.
SPREAD_PERCENTILES = ("p50", "p95", "p99", "p99_9")


@dataclass
class BenchOptions:
    """Everything ``manage.py cachebench`` takes (see its --help)."""

    aliases: list[str]
    ops: list[str] = field(default_factory=lambda: ["get", "set"])
    value_sizes: list[int] = field(default_factory=lambda: [100])
    keys: int = 10_000
    duration: float = 5.0
    warmup: float = 1.0
    concurrency: list[Concurrency] = field(default_factory=lambda: [Concurrency(1, 1)])
    distributions: list[str] = field(default_factory=lambda: ["uniform"])
    zipf_s: float = 0.99
    batch: int = 100
    raw: bool = True
    raw_ops: list[str] = field(default_factory=lambda: ["get", "set"])
    redis_benchmark: bool = True
    redis_benchmark_clients: list[int] = field(default_factory=lambda: [50])
    redis_benchmark_requests: int = 100_000
    redis_benchmark_time_limit: float = 120.0
    compare_builtin: list[str] = field(default_factory=list)
    compare_ops: list[str] = field(default_factory=lambda: ["get"])
    max_rate: float | None = None
    budget: float | None = None
    placement: str | None = None
    seed: int = 1
    repetitions: int = 3

    def as_dict(self) -> dict[str, Any]:
        """The ``parameters`` object of the result document."""
        data = asdict(self)
        data["concurrency"] = [c.label for c in self.concurrency]
        return data


@dataclass
class Layer:
    """One way of reaching an alias's server(s): ``django``, ``raw-redis-py``, ..."""

    name: str
    ops: list[str]
    space: KeySpace
    # value -> worker index -> session (opened in the calling thread)
    sessions: Callable[[bytes], Callable[[int], Session]]
    populated: int | None = None  # value size the whole data key space holds, if any
    counters: bool = False


def utc_now() -> str:
    """ISO 8601 UTC timestamp, seconds."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """``20250101T120000Z-1a2b3c``: sortable, unique enough for a key prefix."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def sanitize_location(location: Any) -> Any:
    """LOCATION without credentials (``//user:pass@`` -> ``//***@``)."""
    if isinstance(location, (list, tuple)):
        return [sanitize_location(x) for x in location]
    if isinstance(location, str):
        return re.sub(r"//[^/@]*@", "//***@", location)
    return location


class Suite:
    """Runs the benchmark and builds the result document."""

    def __init__(
        self,
        options: BenchOptions,
        progress: Progress | None = None,
        get_cache: Callable[[str], Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.options = options
        self.progress = progress or (lambda message: None)
        if get_cache is None:
            from django.core.cache import caches  # noqa: PLC0415 - after django.setup()

            def get_cache(alias: str) -> Any:
                return caches[alias]

        self.get_cache = get_cache
        self.run_id = run_id or new_run_id()
        self.prefix = f"{KEY_ROOT}:{self.run_id}:"
        self.results: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.started = time.monotonic()
        self.runs_done = 0
        self.runs_total = 0
        self.estimate = 0.0  # seconds, once the runs are planned
        # Every key the bench writes expires by itself after the whole run (+10 min),
        # should the bench be killed before its clean-up.
        self.timeout = 600

    # ------------------------------------------------------------ planning

    def _raw_base(self, alias: str) -> str:
        """Where the raw layers' keys live: under the alias's KEY_PREFIX, like Django's keys.

        A Redis ACL user is usually allowed only its app's prefix (``~django:*``): the raw
        loops, the built-in comparison and redis-benchmark must stay inside it too.
        """
        key_prefix = getattr(self.get_cache(alias), "key_prefix", "") or ""
        return f"{key_prefix}:{self.prefix}{alias}:" if key_prefix else f"{self.prefix}{alias}:"

    def _layers(self, alias: str, cache: Any, info: dict[str, Any]) -> tuple[list[Layer], Any]:
        opts = self.options
        base = f"{self.prefix}{alias}:"
        django_space = KeySpace(f"{base}dj:", opts.keys)

        def django_sessions(value: bytes) -> Callable[[int], Session]:
            return lambda _i: DjangoSession(self.get_cache(alias), django_space, value, self.timeout)

        layers = [Layer("django", list(opts.ops), django_space, django_sessions)]
        target: RedisTarget | MemcachedTarget | PyLibMCTarget | None = None
        wants_target = opts.raw or opts.redis_benchmark or alias in opts.compare_builtin
        if wants_target:
            try:
                target = raw_target(cache)
                info["raw_target"] = target.describe()
                info["tls"] = target.tls
            except UnsupportedError as exc:
                info["raw_skipped"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - an unreachable server is a recorded result
                info["raw_skipped"] = f"deriving the connection failed: {error_text(exc)}"
        if opts.raw and target is not None:
            raw_ops = [op for op in opts.ops if op in opts.raw_ops]
            name = "raw-redis-py" if isinstance(target, RedisTarget) else target.layer
            if raw_ops:
                space = KeySpace(f"{self._raw_base(alias)}raw:", opts.keys)
                layers.append(Layer(name, raw_ops, space, self._raw_sessions(target, space)))
        elif opts.raw:
            self._skip(alias, "raw", info.get("raw_skipped") or "no raw ceiling for this backend")
        if alias in opts.compare_builtin:
            self._add_builtin(alias, target, info, layers, base)
        return layers, target

    def _raw_sessions(
        self, target: RedisTarget | MemcachedTarget | PyLibMCTarget, space: KeySpace
    ) -> Callable[[bytes], Callable[[int], Session]]:
        return lambda value: lambda _i: target.session(space, value, self.timeout)

    def _add_builtin(
        self, alias: str, target: Any, info: dict[str, Any], layers: list[Layer], base: str
    ) -> None:
        opts = self.options
        ops = [op for op in opts.ops if op in opts.compare_ops]
        if not isinstance(target, RedisTarget):
            reason = info.get("raw_skipped") or f"a {info['kind']} alias"
            self._skip(alias, "builtin-redis", f"the comparison needs a Redis alias: {reason}")
            return
        if target.topology == "cluster" or not ops:
            reason = (
                "built-in RedisCache has no Redis Cluster support" if ops else "no --compare-ops in --ops"
            )
            self._skip(alias, "builtin-redis", reason)
            return
        space = KeySpace(f"{base}bi:", opts.keys)
        # The same KEY_PREFIX as the alias: its ACL user may write nothing else.
        key_prefix = getattr(self.get_cache(alias), "key_prefix", "") or ""
        info["builtin"] = {
            "backend": "django.core.cache.backends.redis.RedisCache",
            "locations": [target.primary.url(), *[e.url() for e in target.reads if e is not target.primary]],
        }

        def sessions(value: bytes) -> Callable[[int], Session]:
            def session(_i: int) -> Session:
                cache = builtin_redis_cache(target, key_prefix=key_prefix, timeout=self.timeout)
                return DjangoSession(cache, space, value, self.timeout)

            return session

        layers.append(Layer("builtin-redis", ops, space, sessions))

    def describe_alias(self, alias: str, cache: Any) -> dict[str, Any]:
        """The ``aliases.<alias>`` object (no credentials)."""
        info: dict[str, Any] = {
            "backend": class_path(cache),
            "kind": backend_kind(cache),
            "tls": None,
            "raw_target": None,
            "raw_skipped": None,
            "builtin": None,
            schema.ALIAS_SERVER: None,
        }
        client = getattr(cache, "client", None)
        if info["kind"] == "redis" and client is not None and hasattr(client, "_serializer"):
            info["client_class"] = class_path(client)
            info["serializer"] = class_path(client._serializer)
            info["compressor"] = class_path(client._compressor)
        location = getattr(cache, "_servers", None) or getattr(cache, "_server", None)
        if location is None:
            location = getattr(cache, "_dir", None) or getattr(cache, "_table", None)
        info["location"] = sanitize_location(location)
        return info

    # ------------------------------------------------------------ running

    def run(self) -> dict[str, Any]:
        """Run every planned step; always clean up; return the document."""
        opts = self.options
        started_at = utc_now()
        environment = env.collect(opts.placement)
        aliases: dict[str, dict[str, Any]] = {}
        plans: list[tuple[str, list[Layer], Any]] = []
        for alias in opts.aliases:
            try:
                cache = self.get_cache(alias)
            except Exception as exc:  # noqa: BLE001 - e.g. a backend class that cannot be imported
                self._skip(alias, "all", f"the alias cannot be created: {error_text(exc)}")
                continue
            info = self.describe_alias(alias, cache)
            layers, target = self._layers(alias, cache, info)
            info[schema.ALIAS_SERVER] = self._server(alias, cache, target)
            aliases[alias] = info
            plans.append((alias, layers, target))
        self.runs_total = self._count(plans)
        rb_seconds = 0.0
        if opts.redis_benchmark:
            redis_aliases = sum(1 for _unused, _unused, t in plans if isinstance(t, RedisTarget))
            rb_seconds = (
                redis_aliases
                * len(opts.value_sizes)
                * len(opts.redis_benchmark_clients)
                * 4.0
                * opts.repetitions
            )
        self.estimate = self.runs_total * (opts.warmup + opts.duration + 0.5) + rb_seconds
        self.timeout = math.ceil(self.estimate) + 600
        self.progress(
            f"cachebench {self.run_id}: {self.runs_total} runs over {len(plans)} aliases, "
            f"about {self.estimate / 60:.1f} min; keys {self.prefix}* version {BENCH_VERSION}, "
            f"expiring after {self.timeout}s"
        )
        for alias, layers, target in plans:
            refusal = self._memory_check(alias, layers, target)
            if refusal:
                self._skip(alias, "all", refusal)
                self.notes.append(f"{alias}: not benchmarked: {refusal}")
                continue
            for size in opts.value_sizes:
                value = make_value(size, opts.seed)
                try:
                    self._run_size(alias, layers, size, value)
                finally:
                    for layer in layers:
                        self._cleanup(alias, layer, value)
                if isinstance(target, RedisTarget):
                    self._redis_benchmark(alias, target, size)
        environment["loadavg_end"] = env.load_average()
        document = {
            "schema": schema.SCHEMA,
            "run_id": self.run_id,
            "key_prefix": self.prefix,
            "version": BENCH_VERSION,
            "started_at": started_at,
            "finished_at": utc_now(),
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "placement": environment["placement"],
            "parameters": opts.as_dict(),
            "environment": environment,
            "aliases": aliases,
            "results": self.results,
            "ratios": compute_ratios(self.results),
            "skipped": self.skipped,
            "notes": self.notes,
        }
        # In the schema's order; a key the schema does not name fails here, not in the report.
        return {key: document[key] for key in schema.KEYS}

    def _server(self, alias: str, cache: Any, target: Any) -> str | None:
        """The server label of an alias; what kept a server from being read goes to the notes."""
        label, problems = alias_server(cache, target)
        self.notes += [f"{alias}: could not read the server software: {p}" for p in problems]
        self.progress(f"{alias}: server {label or UNKNOWN}")
        return label

    def _count(self, plans: list[tuple[str, list[Layer], Any]]) -> int:
        opts = self.options
        per_layer = len(opts.distributions) * len(opts.concurrency) * len(opts.value_sizes) * opts.repetitions
        return sum(len(layer.ops) * per_layer for _unused, layers, _unused in plans for layer in layers)

    def _skip(self, alias: str, layer: str, reason: str, op: str | None = None) -> None:
        self.skipped.append({"alias": alias, "layer": layer, "op": op, "reason": reason})
        self.progress(f"skip {alias} {layer}{' ' + op if op else ''}: {reason}")

    def _over_budget(self) -> bool:
        budget = self.options.budget
        next_run = self.options.warmup + self.options.duration
        return budget is not None and time.monotonic() - self.started + next_run > budget

    def _run_size(self, alias: str, layers: list[Layer], size: int, value: bytes) -> None:
        """Every run of one value size. The layers take turns at each op and concurrency,
        repetition after repetition, so a change of load on the host between runs does not
        bias the Django/raw ratio; each layer's repetitions become one result."""
        opts = self.options
        factories = {layer.name: layer.sessions(value) for layer in layers}
        for distribution in opts.distributions:
            for op in opts.ops:
                for concurrency in opts.concurrency:
                    spec = LoadSpec(
                        op=op,
                        keys=opts.keys,
                        distribution=distribution,
                        duration=opts.duration,
                        warmup=opts.warmup,
                        concurrency=concurrency,
                        batch=opts.batch,
                        max_rate=opts.max_rate,
                        seed=opts.seed,
                        zipf_s=opts.zipf_s,
                    )
                    runs: dict[str, list[dict[str, Any]]] = {}
                    for repetition in range(opts.repetitions):
                        for layer in (la for la in layers if op in la.ops):
                            self.runs_done += 1
                            if self._over_budget():
                                self._skip(alias, layer.name, f"--budget {opts.budget:g}s reached", op)
                                continue
                            label = f"{repetition + 1}/{opts.repetitions}"
                            record = self._run_one(
                                alias, layer, spec, size, factories[layer.name], repetition=label
                            )
                            if record is not None:
                                runs.setdefault(layer.name, []).append(record)
                    self.results += [aggregate(records) for records in runs.values()]

    def _run_one(
        self,
        alias: str,
        layer: Layer,
        spec: LoadSpec,
        size: int,
        factory: Callable[[int], Session],
        *,
        repetition: str,
    ) -> dict[str, Any] | None:
        try:
            self._prepare(layer, spec.op, size, factory)
        except Exception as exc:  # noqa: BLE001 - a server down is a recorded result, not a crash
            self._skip(alias, layer.name, f"writing the keys to read failed: {error_text(exc)}", spec.op)
            return None
        label = (
            f"[{self.runs_done}/{self.runs_total}] {alias} {layer.name} {spec.op} {size}B "
            f"{spec.distribution} {spec.concurrency.label} run {repetition}"
        )
        self.progress(f"{label} ...")
        load = run_load(factory, spec, lambda msg: self.progress(f"{label}: {msg}"))
        record = result_record(alias, layer.name, spec, size, load)
        self.progress(f"{label}: {summary_line(record)}")
        self._after(layer, spec.op, size, record)
        if spec.op in ("set", "set_many") and record["calls"]:
            self._check_writes(layer, record, factory)
        return record

    def _memory_check(self, alias: str, layers: list[Layer], target: Any) -> str | None:
        """Refuse an alias whose server would have to evict to hold the bench's keys.

        Peak = every layer's key space at the largest value size (+64 bytes a key). Refused
        when that is over half of what the server has left under its limit (Redis
        maxmemory, memcached -m): eviction there would drop the application's keys."""
        opts = self.options
        peak = len(layers) * opts.keys * (max(opts.value_sizes) + 64)
        free: int | None = None
        try:
            if isinstance(target, RedisTarget):
                client = target.cluster_client() if target.topology == "cluster" else target.primary.client()
                info = client.info("memory")
                client.close()
                if isinstance(info, dict) and int(info.get("maxmemory") or 0) > 0:
                    free = int(info["maxmemory"]) - int(info.get("used_memory") or 0)
            elif isinstance(target, MemcachedTarget):
                client = target.client()
                stats = [server.stats() for server in client.clients.values()]
                client.close()
                free = sum(int(s[b"limit_maxbytes"]) - int(s[b"bytes"]) for s in stats)
            elif isinstance(target, PyLibMCTarget):
                client = target.client()
                stats = [dict(found) for _unused, found in client.get_stats()]
                client.disconnect_all()
                free = sum(int(s["limit_maxbytes"]) - int(s["bytes"]) for s in stats)
        except Exception as exc:  # noqa: BLE001 - e.g. an ACL user without INFO: note it and go on
            self.notes.append(
                f"{alias}: could not read the server's memory ({error_text(exc)}); peak {peak / 1e6:.0f} MB"
            )
            return None
        self.progress(
            f"{alias}: the bench holds up to {peak / 1e6:.1f} MB in the server"
            + (f" ({free / 1e6:.0f} MB free under its limit)" if free is not None else "")
        )
        if free is not None and peak > free / 2:
            return (
                f"the bench would hold {peak / 1e6:.0f} MB, over half of the {free / 1e6:.0f} MB the server "
                "has left under its memory limit (eviction would drop application keys): "
                "lower --keys or --value-size"
            )
        return None

    def _prepare(self, layer: Layer, op: str, size: int, factory: Callable[[int], Session]) -> None:
        needs_data = op in READ_OPS and layer.populated != size
        needs_counters = op == "incr" and not layer.counters
        if not (needs_data or needs_counters):
            return
        session = factory(-1)
        try:
            for start in range(0, self.options.keys, CLEANUP_BATCH):
                batch = range(start, min(start + CLEANUP_BATCH, self.options.keys))
                if needs_data:
                    session.populate(batch)
                if needs_counters:
                    session.populate(batch, counters=True)
        finally:
            session.close()
        if needs_data:
            layer.populated = size
        if needs_counters:
            layer.counters = True

    def _after(self, layer: Layer, op: str, size: int, record: dict[str, Any]) -> None:
        if op in REMOVING_OPS or (op in ("set", "set_many") and layer.populated != size):
            layer.populated = None
        ratio = record["hit_ratio"]
        if op in ("get", "get_many") and record["calls"] and ratio is not None and ratio < 0.9:
            where = " ".join(
                (record["alias"], layer.name, op, f"{size}B", record["distribution"], record["concurrency"])
            )
            self.notes.append(
                f"{where}: {ratio:.0%} hits on keys written just before "
                "(the backend drops them: MAX_ENTRIES culling, eviction, item size limit?)"
            )

    def _check_writes(self, layer: Layer, record: dict[str, Any], factory: Callable[[int], Session]) -> None:
        """After a write run, read some of the keys back: a client that drops writes
        silently (pymemcache with its server marked dead, IGNORE_EXCEPTIONS) shows up here."""
        opts = self.options
        where = f"{record['alias']} {layer.name} {record['op']} {record['concurrency']}"
        count = min(opts.keys, CLEANUP_BATCH)
        if record["distribution"] == "zipf":  # the hottest keys were certainly written
            sample = ZipfTable(opts.keys, s=opts.zipf_s, seed=opts.seed).permutation[:count]
        elif record["calls"] * record["keys_per_call"] >= opts.keys:  # most keys were written
            sample = list(range(count))
        else:
            return
        try:
            session = factory(-1)
            try:
                found = session.operation("get_many")(sample)
            finally:
                session.close()
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"{where}: could not read the written keys back: {error_text(exc)}")
            return
        if found == 0:
            self.notes.append(f"{where}: none of the keys written could be read back (writes dropped?)")

    def _cleanup(self, alias: str, layer: Layer, value: bytes) -> None:
        """Delete the layer's own keys (data and counters), batch by batch."""
        try:
            session = layer.sessions(value)(-1)
        except Exception as exc:  # noqa: BLE001 - report, keep cleaning the other layers
            self.notes.append(f"clean-up of {alias} {layer.name} could not connect: {error_text(exc)}")
            return
        try:
            for start in range(0, self.options.keys, CLEANUP_BATCH):
                session.remove(range(start, min(start + CLEANUP_BATCH, self.options.keys)))
        except Exception as exc:  # noqa: BLE001
            self.notes.append(
                f"clean-up of {alias} {layer.name} failed: {error_text(exc)} (keys expire by themselves)"
            )
        finally:
            session.close()
        layer.populated, layer.counters = None, False

    # ------------------------------------------------------------ redis-benchmark

    def _redis_benchmark(self, alias: str, target: RedisTarget, size: int) -> None:
        opts = self.options
        if not opts.redis_benchmark:
            return
        binary = redis_benchmark_binary()
        reason = None
        if binary is None:
            reason = "redis-benchmark is not installed (Debian: redis-tools)"
        elif opts.max_rate is not None:
            reason = "--max-rate is set and redis-benchmark cannot be rate-limited"
        if reason or binary is None:
            if not any(s["layer"] == "redis-benchmark" and s["alias"] == alias for s in self.skipped):
                self._skip(alias, "redis-benchmark", reason or "")
            return
        cluster = target.topology == "cluster"
        try:  # redis-benchmark retries forever when it cannot connect: check first
            client = target.cluster_client() if cluster else target.primary.client()
            client.ping()
            client.close()
        except Exception as exc:  # noqa: BLE001 - recorded as the reason
            self._skip(alias, "redis-benchmark", f"the server does not answer PING: {error_text(exc)}")
            return
        try:
            for clients in opts.redis_benchmark_clients:
                for test in ("set", "get"):
                    runs: list[dict[str, Any]] = []
                    for repetition in range(opts.repetitions):
                        if self._over_budget():
                            self._skip(alias, "redis-benchmark", f"--budget {opts.budget:g}s reached", test)
                            continue
                        endpoint = target.primary if test == "set" or cluster else target.reads[0]
                        argv = redis_benchmark_command(
                            binary,
                            endpoint,
                            test=test,
                            clients=clients,
                            requests=opts.redis_benchmark_requests,
                            keys=opts.keys,
                            value_size=size,
                            prefix=self._raw_base(alias),
                            timeout=self.timeout,
                            cluster=cluster,
                        )
                        label = (
                            f"{alias} redis-benchmark {test} {size}B -c {clients} "
                            f"run {repetition + 1}/{opts.repetitions}"
                        )
                        self.progress(f"{label} ...")
                        run = run_redis_benchmark(argv, endpoint, opts.redis_benchmark_time_limit)
                        record = benchmark_record(
                            alias,
                            test,
                            run,
                            value_size=size,
                            clients=clients,
                            requests=opts.redis_benchmark_requests,
                        )
                        runs.append(record)
                        self.progress(f"{label}: {summary_line(record)}")
                    if runs:
                        self.results.append(aggregate(runs))
        finally:
            self._benchmark_cleanup(alias, target)

    def _benchmark_cleanup(self, alias: str, target: RedisTarget) -> None:
        """Delete the keys redis-benchmark wrote (our prefix only)."""
        prefix = self._raw_base(alias)
        try:
            if target.topology == "cluster":
                client = target.cluster_client()
                keys = list(client.scan_iter(match=f"{prefix}rb:*", count=1000))
                for start in range(0, len(keys), CLEANUP_BATCH):
                    client.delete(*keys[start : start + CLEANUP_BATCH])
            else:
                client = target.primary.client()
                keys = benchmark_keys(prefix, self.options.keys)
                for start in range(0, len(keys), CLEANUP_BATCH):
                    client.delete(*keys[start : start + CLEANUP_BATCH])
            client.close()
        except Exception as exc:  # noqa: BLE001
            self.notes.append(
                f"clean-up of {alias} redis-benchmark keys failed: {error_text(exc)} (they expire)"
            )


# ---------------------------------------------------------------- records


def result_record(
    alias: str, layer: str, spec: LoadSpec, value_size: int, load: LoadResult
) -> dict[str, Any]:
    """One element of ``results`` for a cachebench run."""
    per_call = keys_per_call(spec.op, spec.batch)
    reads = spec.op in READ_OPS
    return {
        "alias": alias,
        "layer": layer,
        "tool": "cachebench",
        "op": spec.op,
        "value_size": value_size,
        "distribution": spec.distribution,
        "concurrency": spec.concurrency.label,
        "processes": spec.concurrency.processes,
        "threads": spec.concurrency.threads,
        "workers": spec.concurrency.workers,
        "keys_per_call": per_call,
        "duration_s": spec.duration,
        "warmup_s": spec.warmup,
        "max_rate": spec.max_rate,
        "calls": load.calls,
        "errors": load.errors,
        "first_error": load.first_error,
        "hits": load.hits if reads else None,
        "hit_ratio": round(load.hits / (load.calls * per_call), 4) if reads and load.calls else None,
        "elapsed_s": round(load.elapsed_s, 4),
        "ops_per_s": round(load.ops_per_s, 1),
        "keys_per_s": round(load.ops_per_s * per_call, 1),
        "latency_us": load.latency.as_dict() if load.latency else None,
    }


def benchmark_record(
    alias: str, test: str, run: Any, *, value_size: int, clients: int, requests: int
) -> dict[str, Any]:
    """One element of ``results`` for a redis-benchmark test (latencies converted to us)."""
    ms = run.latency_ms
    latency = None
    if run.ops_per_s is not None:
        latency = {
            "samples": requests,
            "min": ms.get("min", 0) * 1000,
            "mean": ms.get("avg", 0) * 1000,
            "p50": ms.get("p50", 0) * 1000,
            "p95": ms.get("p95", 0) * 1000,
            "p99": ms.get("p99", 0) * 1000,
            "p99_9": None,
            "max": ms.get("max", 0) * 1000,
        }
        latency = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in latency.items()}
    return {
        "alias": alias,
        "layer": "redis-benchmark",
        "tool": "redis-benchmark",
        "op": test,
        "value_size": value_size,
        "distribution": "uniform",
        "concurrency": f"c{clients}",
        "processes": None,
        "threads": None,
        "workers": clients,
        "keys_per_call": 1,
        "duration_s": None,
        "warmup_s": None,
        "max_rate": None,
        "calls": requests if run.ops_per_s is not None else 0,
        "errors": 0 if run.error is None else 1,
        "first_error": run.error,
        "hits": None,
        "hit_ratio": None,
        "elapsed_s": round(run.elapsed_s, 4),
        "ops_per_s": round(run.ops_per_s, 1) if run.ops_per_s is not None else None,
        "keys_per_s": round(run.ops_per_s, 1) if run.ops_per_s is not None else None,
        "latency_us": latency,
        "command": run.command,
    }


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _run_of(record: dict[str, Any]) -> dict[str, Any]:
    """What ``runs`` keeps of one repetition."""
    latency = record.get("latency_us") or {}
    return {
        "ops_per_s": record.get("ops_per_s"),
        "calls": record.get("calls"),
        "errors": record.get("errors"),
        **{name: latency.get(name) for name in SPREAD_PERCENTILES},
    }


def aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The repetitions of one layer, op and level as one result: each figure the median of
    the runs that measured something, ``spread`` its minimum and maximum, ``runs`` each run."""
    result = dict(records[0])
    measured = [r for r in records if r.get("ops_per_s") is not None]
    result["repetitions"] = len(records)
    result["runs"] = [_run_of(r) for r in records]
    result["calls"] = sum(r.get("calls") or 0 for r in records)
    result["errors"] = sum(r.get("errors") or 0 for r in records)
    result["first_error"] = next((r["first_error"] for r in records if r.get("first_error")), None)
    result["elapsed_s"] = round(sum(r.get("elapsed_s") or 0.0 for r in records), 4)
    if result.get("hits") is not None:
        result["hits"] = sum(r.get("hits") or 0 for r in records)
        keys = result["calls"] * result["keys_per_call"]
        result["hit_ratio"] = round(result["hits"] / keys, 4) if keys else None
    spread: dict[str, list[float]] = {}
    if measured:
        ops = [float(r["ops_per_s"]) for r in measured]
        result["ops_per_s"] = round(_median(ops), 1)
        result["keys_per_s"] = round(_median(ops) * result["keys_per_call"], 1)
        spread["ops_per_s"] = [min(ops), max(ops)]
    latencies = [r["latency_us"] for r in measured if r.get("latency_us")]
    if latencies:
        latency: dict[str, Any] = {}
        for name, value in latencies[0].items():
            values = [lat[name] for lat in latencies if lat.get(name) is not None]
            if name == "samples":
                latency[name] = sum(values)
            elif values:
                latency[name] = round(_median(values), 3)
                if name in SPREAD_PERCENTILES:
                    spread[name] = [min(values), max(values)]
            else:
                latency[name] = value
        result["latency_us"] = latency
    result["spread"] = spread
    return result


RATIO_KINDS = (
    ("django/raw", ("raw-redis-py", "raw-pymemcache", "raw-pylibmc")),
    ("ours/builtin", ("builtin-redis",)),
)


def paired_ratio(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """The median of the runs' pair ratios (run i of one layer ran next to run i of the
    other), its range, and whether it is noisy (a pair ratio beyond +-NOISE of the median)."""
    mine = [r.get("ops_per_s") for r in ours.get("runs") or [ours]]
    other = [r.get("ops_per_s") for r in theirs.get("runs") or [theirs]]
    pairs = [a / b for a, b in zip(mine, other, strict=False) if a is not None and b]
    if not pairs:
        return {"ratio": None, "ratio_range": None, "pairs": 0, "noisy": False}
    middle = _median(pairs)
    low, high = min(pairs), max(pairs)
    noisy = len(pairs) > 1 and (low < middle * (1 - NOISE) or high > middle * (1 + NOISE))
    return {
        "ratio": round(middle, 4),
        "ratio_range": [round(low, 4), round(high, 4)],
        "pairs": len(pairs),
        "noisy": noisy,
    }


def compute_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Django layer ops/s divided by the raw (and built-in) ops/s of the same alias, op,
    value size, distribution and concurrency: the median of the paired repetitions."""
    index = {
        (r["alias"], r["layer"], r["op"], r["value_size"], r["distribution"], r["concurrency"]): r
        for r in results
    }
    ratios = []
    for r in results:
        if r["layer"] != "django":
            continue
        for kind, layers in RATIO_KINDS:
            for other_layer in layers:
                other = index.get(
                    (r["alias"], other_layer, r["op"], r["value_size"], r["distribution"], r["concurrency"])
                )
                if other is None:
                    continue
                ratios.append(
                    {
                        "kind": kind,
                        "alias": r["alias"],
                        "op": r["op"],
                        "value_size": r["value_size"],
                        "distribution": r["distribution"],
                        "concurrency": r["concurrency"],
                        "django_ops_per_s": r["ops_per_s"] or 0.0,
                        "other_layer": other_layer,
                        "other_ops_per_s": other["ops_per_s"] or 0.0,
                        **paired_ratio(r, other),
                    }
                )
    return ratios


def summary_line(record: dict[str, Any]) -> str:
    """``12,345 ops/s p50 80us p99 250us`` (+ errors)."""
    lat = record.get("latency_us") or {}
    ops = record.get("ops_per_s")
    text = f"{ops:,.0f} ops/s" if ops is not None else "no result"
    if lat:
        text += f"  p50 {lat.get('p50') or 0:,.0f}us  p99 {lat.get('p99') or 0:,.0f}us"
    if record.get("errors"):
        text += f"  {record['errors']} errors ({record.get('first_error')})"
    return text


def summary_table(doc: dict[str, Any]) -> str:
    """The compact table printed at the end of ``manage.py cachebench``: medians, the ops/s
    spread of the repetitions ((max - min) / median), ratios (``~`` after a noisy one)."""
    ratio = {
        (r["alias"], r["op"], r["value_size"], r["distribution"], r["concurrency"], r["kind"]): r
        for r in doc["ratios"]
    }
    header = (
        "alias",
        "layer",
        "op",
        "size",
        "dist",
        "conc",
        "ops/s",
        "spread",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "err",
        "vs raw",
        "vs builtin",
    )
    rows = [header]

    def num(value: Any, fmt: str = "{:,.0f}") -> str:
        return "-" if value is None else fmt.format(value)

    def spread(r: dict[str, Any]) -> str:
        low, high = (r.get("spread") or {}).get("ops_per_s") or (None, None)
        middle = r.get("ops_per_s")
        return f"{(high - low) / middle:.0%}" if middle and low is not None else "-"

    def ratio_text(found: dict[str, Any] | None) -> str:
        if not found or found.get("ratio") is None:
            return "-"
        return f"{found['ratio']:.2f}" + ("~" if found.get("noisy") else "")

    for r in doc["results"]:
        lat = r.get("latency_us") or {}
        key = (r["alias"], r["op"], r["value_size"], r["distribution"], r["concurrency"])
        is_django = r["layer"] == "django"
        rows.append(
            (
                r["alias"],
                r["layer"],
                r["op"],
                str(r["value_size"]),
                r["distribution"],
                r["concurrency"],
                num(r["ops_per_s"]),
                spread(r),
                num(lat.get("p50")),
                num(lat.get("p99")),
                num(lat.get("p99_9")),
                str(r["errors"]),
                ratio_text(ratio.get((*key, "django/raw"))) if is_django else "",
                ratio_text(ratio.get((*key, "ours/builtin"))) if is_django else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(w) if i >= 6 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)

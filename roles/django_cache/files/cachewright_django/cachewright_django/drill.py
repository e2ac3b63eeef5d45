"""Writers for a change drill: what a change of the cache tier costs the app.

While an operator changes the tier (a restart, an upgrade, new certificates, a failover),
writers go through the app's own cache aliases and record every write the cache
acknowledged and every error. Afterwards the drill counts what an operator asks:

- keys written before the change that are gone after it (``seed`` then ``verify``);
- writes acknowledged during the change that cannot be read back after it;
- the windows in which a writer got errors, and the longest of them;
- the slowest acknowledged write (writes held while a primary hands over);
- with ``--invalidate``, what an app that overwrites and deletes keys reads: during the
  change and afterwards, no key may read its value from before a change or come back
  after its delete (``invalidate_until``, ``verify_invalidations``).

::

    manage.py cachedrill seed   --run R --aliases default sessions --keys 5000
    manage.py cachedrill write  --run R --phase restart --aliases default sessions \
        --stop-file /tmp/stop --out /tmp/restart.json            # until the stop file exists
    manage.py cachedrill verify --run R --phase restart --writes /tmp/restart.json
    manage.py cachedrill clean  --run R --aliases default sessions --writes /tmp/restart.json

Every key is ``cwdrill:<run>:...`` under the alias's KEY_PREFIX and carries a TTL; only the
drill's own keys are ever deleted. Each alias is built from its settings with the errors
it would swallow (``IGNORE_EXCEPTIONS``, pymemcache's ``ignore_exc``) turned back on, so
that a failed write counts as one. A write is a unique ``add()``: it is acknowledged
when the cache answers True.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import runpy
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

TTL = 3 * 3600
BATCH = 500
VALUE_BYTES = 100
# Reads of the check may go to a replica: a key missing at first is read again for this long.
SETTLE_S = 3.0
# The invalidation writer: a key gets its value "from before" this many steps ahead of its
# change (about 15 s at the writers' pace: long enough to be on its server before that
# server goes down), and each step reads back the key changed this many steps before.
INVALIDATION_LAG = 2000
READ_BACK = 50
# How long the invalidation writer, when it stops, gives its servers to take the changes
# they missed (what an app process does when it ends, cachewright_django.memcached).
DELIVERY_S = 10.0
# Failures less than this far apart belong to one window: with a memcached pool, the keys of
# the server that restarts fail while the others' succeed in between.
WINDOW_GAP_S = 0.25


def drill_cache(alias: str, caches: dict[str, Any] | None = None) -> Any:
    """The alias's backend from its settings (or from `caches`, a CACHES read anew), with
    swallowed errors raised again."""
    from django.conf import settings  # noqa: PLC0415 - settings must be configured first
    from django.utils.module_loading import import_string  # noqa: PLC0415

    params = copy.deepcopy((caches or settings.CACHES)[alias])
    options = params.setdefault("OPTIONS", {})
    if "ignore_exc" in options:
        options["ignore_exc"] = False
    if "IGNORE_EXCEPTIONS" in options:
        options["IGNORE_EXCEPTIONS"] = False
    backend = import_string(params.pop("BACKEND"))
    return backend(params.pop("LOCATION", ""), params)


def close_connections(cache: Any) -> None:
    """Close the backend's connections, so that its next call opens (and authenticates) a
    new one: django-redis keeps its clients and their pools until told."""
    close = getattr(getattr(cache, "client", None), "do_close_clients", None)
    if callable(close):
        close()
    else:
        cache.close()


def forget_pools() -> None:
    """Drop django-redis's process-wide connection pools (keyed by URL alone, so a pool holds
    the password it was made with): what a restarted app process starts without."""
    try:
        from django_redis.pool import ConnectionFactory  # noqa: PLC0415 - optional dependency
    except ImportError:
        return
    # No public way to reset them. The pools are not disconnected: another writer thread may be
    # using one until it reads the new settings too; each is closed when no client holds it.
    ConnectionFactory._pools.clear()


def seed_key(run: str, index: int) -> str:
    return f"cwdrill:{run}:seed:{index}"


def write_key(run: str, phase: str, seq: int) -> str:
    return f"cwdrill:{run}:{phase}:{seq}"


def invalidation_key(run: str, phase: str, index: int) -> str:
    return f"cwdrill:{run}:{phase}:inv:{index}"


def old_value(key: str) -> str:
    """The value a key holds before the invalidation writer changes it."""
    return f"old:{key}".ljust(VALUE_BYTES, ".")


def read_verdict(index: int, key: str, got: Any) -> str:
    """What a read of an invalidation key after its change saw: `ok`, `miss` or `stale`.
    Even steps overwrite (the new value or a miss is right, the old value is stale); odd
    steps delete (anything but a miss is a resurrected delete, also `stale`)."""
    if index % 2:
        return "ok" if got is None else "stale"
    if got is None:
        return "miss"
    return "ok" if got == value_of(key) else "stale"


def value_of(key: str) -> str:
    """The value the drill writes under a key: the key, padded, so a wrong value shows."""
    return key.ljust(VALUE_BYTES, ".")


def chunks(items: Sequence[str], size: int = BATCH) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def seed(alias: str, run: str, keys: int, cache: Any = None) -> dict[str, Any]:
    """Write the keys that must survive the change: a third with set(), a third with
    set_many() (a MULTI/EXEC pipeline on django-redis) and a third as counters (incr)."""
    cache = cache or drill_cache(alias)
    names = [seed_key(run, i) for i in range(keys)]
    plain, batched, counters = names[0::3], names[1::3], names[2::3]
    for key in plain:
        cache.set(key, value_of(key), TTL)
    for part in chunks(batched):
        failed = cache.set_many({key: value_of(key) for key in part}, TTL)
        if failed:
            raise RuntimeError(f"{alias}: set_many refused {len(failed)} keys")
    for key in counters:
        cache.set(key, 0, TTL)
        cache.incr(key)
    return {"alias": alias, "keys": keys}


def expected_seed(run: str, keys: int) -> dict[str, Any]:
    return {seed_key(run, i): (1 if i % 3 == 2 else value_of(seed_key(run, i))) for i in range(keys)}


@dataclass
class Window:
    """A run of failed writes, from the first failure to the next acknowledged write."""

    start: float
    end: float = 0.0
    errors: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    # The first message of each kind of error, and when it came (seconds into the window).
    first: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 3)


@dataclass
class WriterLog:
    """What one alias's writer saw."""

    alias: str
    acknowledged: list[int] = field(default_factory=list)
    attempts: int = 0
    windows: list[Window] = field(default_factory=list)
    slowest_ack_s: float = 0.0
    # How many times the client was built again from changed settings.
    reloads: int = 0
    open_window: Window | None = None

    def succeeded(self, ended: float) -> None:
        """An attempt the cache acknowledged: it ends the open window, if any."""
        self.attempts += 1
        self.close(ended)

    def failed(self, began: float, kind: str, message: str) -> None:
        """An attempt that failed: counted in the open window (one opens if none is)."""
        self.attempts += 1
        window = self.open_window = self.open_window or Window(start=began)
        window.errors += 1
        window.kinds[kind] = window.kinds.get(kind, 0) + 1
        window.first.setdefault(kind, f"+{began - window.start:.2f} s: {message}")

    def close(self, ended: float) -> None:
        """The open window, if any, ends now (an acknowledged attempt, or the writer stopped)."""
        if self.open_window is not None:
            self.open_window.end = ended
            self.windows.append(self.open_window)
            self.open_window = None

    def merged(self) -> list[Window]:
        """The windows, those less than WINDOW_GAP_S apart joined into one."""
        joined: list[Window] = []
        for window in self.windows:
            last = joined[-1] if joined else None
            if last is not None and window.start - last.end < WINDOW_GAP_S:
                last.end = window.end
                last.errors += window.errors
                for kind, count in window.kinds.items():
                    last.kinds[kind] = last.kinds.get(kind, 0) + count
                for kind, text in window.first.items():
                    last.first.setdefault(kind, text)
            else:
                joined.append(copy.deepcopy(window))
        return joined

    def as_dict(self) -> dict[str, Any]:
        windows = [{**asdict(w), "seconds": w.seconds} for w in self.merged()]
        return {
            "alias": self.alias,
            "attempts": self.attempts,
            "acknowledged": self.acknowledged,
            "failed": sum(w.errors for w in self.windows),
            "windows": windows,
            "longest_window_s": max((w["seconds"] for w in windows), default=0.0),
            "slowest_ack_s": round(self.slowest_ack_s, 3),
            "reloads": self.reloads,
        }


class FollowedSettings:
    """The settings module the app imports, read anew whenever it or one of its secrets
    changes (the files of ``<module>.secrets/`` beside it, which the module reads: a new
    password changes only those): what an app process sees when the kit rewrites its
    settings and restarts it."""

    def __init__(self, path: str, check_every: float = 0.5) -> None:
        self.path = path
        self.check_every = check_every
        self.checked = 0.0
        self.stamp = self._stamp()
        self.version = 0
        self.caches: dict[str, Any] | None = None
        self.lock = threading.Lock()

    def _stamp(self) -> tuple[tuple[str, int], ...]:
        """Each file the settings are made of, with its modification time."""
        secrets = os.path.splitext(self.path)[0] + ".secrets"
        names = [self.path]
        if os.path.isdir(secrets):
            names += sorted(os.path.join(secrets, name) for name in os.listdir(secrets))
        return tuple((name, os.stat(name).st_mtime_ns) for name in names if os.path.isfile(name))

    def poll(self) -> int:
        """The settings' version now (it grows by one each time one of their files changed)."""
        with self.lock:
            now = time.monotonic()
            if now - self.checked >= self.check_every:
                self.checked = now
                stamp = self._stamp()
                if stamp != self.stamp:
                    self.stamp = stamp
                    self.caches = runpy.run_path(self.path)["CACHES"]
                    self.version += 1
            return self.version


def write_until(
    alias: str,
    run: str,
    phase: str,
    stop: Callable[[], bool],
    *,
    interval: float = 0.005,
    cache: Any = None,
    clock: Callable[[], float] = time.time,
    follow: FollowedSettings | None = None,
    fresh: bool = False,
) -> WriterLog:
    """Unique add() writes until stop() says so; every answer recorded. With `follow`, the
    alias's client is built again from the settings file each time it changes (as the app
    restarted by the kit would). With `fresh`, every write opens a new connection (and logs
    in again): a connection already open outlives a change of the server's passwords."""
    cache = cache or drill_cache(alias)
    log = WriterLog(alias)
    seq = 0
    version = 0
    while not stop():
        if follow is not None and follow.poll() != version:
            version = follow.version
            if fresh:
                forget_pools()
            cache = drill_cache(alias, follow.caches)
            log.reloads += 1
        if fresh:
            close_connections(cache)
        key = write_key(run, phase, seq)
        began = clock()
        try:
            ok = bool(cache.add(key, value_of(key), TTL))
            kind, message = ("", "") if ok else ("not stored", "add() answered False")
        except Exception as error:  # noqa: BLE001 - every error a client can raise counts
            ok, kind, message = False, type(error).__name__, str(error)[:200]
        ended = clock()
        if ok:
            log.acknowledged.append(seq)
            log.slowest_ack_s = max(log.slowest_ack_s, ended - began)
            log.succeeded(ended)
            time.sleep(interval)
        else:
            log.failed(began, kind, message)
            time.sleep(min(interval, 0.01))
        seq += 1
    log.close(clock())
    return log


@dataclass
class InvalidationLog:
    """What one alias's invalidation writer did and read."""

    alias: str
    changes: WriterLog
    steps: int = 0
    reads: int = 0
    misses: int = 0
    read_errors: int = 0
    stale_reads: int = 0
    # Servers that still had missed changes when the writer ended (it waited DELIVERY_S).
    undelivered: int = 0

    def as_dict(self) -> dict[str, Any]:
        changes = self.changes.as_dict()
        return {
            "alias": self.alias,
            "steps": self.steps,
            "reads": self.reads,
            "misses": self.misses,
            "read_errors": self.read_errors,
            "stale_reads": self.stale_reads,
            "undelivered": self.undelivered,
            **{k: changes[k] for k in ("attempts", "failed", "windows", "longest_window_s")},
        }


def invalidate_until(
    alias: str,
    run: str,
    phase: str,
    stop: Callable[[], bool],
    *,
    interval: float = 0.005,
    cache: Any = None,
    clock: Callable[[], float] = time.time,
) -> InvalidationLog:
    """An app that invalidates, until stop(): step i writes key i+INVALIDATION_LAG's old value,
    overwrites (even i) or deletes (odd i) key i, each once, then reads key i-READ_BACK.
    Counts the reads that saw a value from before a change (stale) and the misses."""
    cache = cache or drill_cache(alias)
    log = InvalidationLog(alias, WriterLog(alias))
    olds = [invalidation_key(run, phase, i) for i in range(INVALIDATION_LAG)]
    for part in chunks(olds):
        cache.set_many({key: old_value(key) for key in part}, TTL)
    while not stop():
        index = log.steps
        ahead = invalidation_key(run, phase, index + INVALIDATION_LAG)
        key = invalidation_key(run, phase, index)
        # The value from before, for a later step: if it fails, that key was never written.
        with contextlib.suppress(Exception):
            cache.set(ahead, old_value(ahead), TTL)
        began = clock()
        try:
            if index % 2:
                cache.delete(key)
            else:
                cache.set(key, value_of(key), TTL)
            log.changes.succeeded(clock())
        except Exception as error:  # noqa: BLE001 - every error a client can raise counts
            log.changes.failed(began, type(error).__name__, str(error)[:200])
        log.steps += 1
        if index >= READ_BACK:
            earlier = invalidation_key(run, phase, index - READ_BACK)
            try:
                verdict = read_verdict(index - READ_BACK, earlier, cache.get(earlier))
            except Exception:  # noqa: BLE001 - a read that fails is counted, not judged
                log.read_errors += 1
            else:
                log.reads += 1
                log.misses += verdict == "miss"
                log.stale_reads += verdict == "stale"
        time.sleep(interval)
    log.changes.close(clock())
    client = getattr(cache, "_cache", None)
    if hasattr(client, "deliver_pending"):
        log.undelivered = client.deliver_pending(DELIVERY_S)
    return log


def verify_invalidations(run: str, phase: str, cache: Any, steps: int) -> dict[str, Any]:
    """What another process reads, afterwards, of every key the invalidation writer changed:
    overwritten keys that read their old value, deleted keys that are back."""
    found = {"stale_overwrites": 0, "resurrected_deletes": 0, "missing_overwrites": 0}
    examples: list[str] = []
    for start in range(0, steps, BATCH):
        part = [invalidation_key(run, phase, i) for i in range(start, min(start + BATCH, steps))]
        got = cache.get_many(part)
        for index, key in enumerate(part, start):
            verdict = read_verdict(index, key, got.get(key))
            if verdict == "miss":
                found["missing_overwrites"] += 1
            elif verdict == "stale":
                found["resurrected_deletes" if index % 2 else "stale_overwrites"] += 1
                examples.append(key)
    return {"overwritten": (steps + 1) // 2, "deleted": steps // 2, **found, "stale_examples": examples[:5]}


def write(
    aliases: Sequence[str],
    run: str,
    phase: str,
    stop: Callable[[], bool],
    interval: float = 0.005,
    *,
    follow: str = "",
    invalidating: Sequence[str] = (),
    fresh: bool = False,
) -> dict[str, Any]:
    """One writer thread per alias until stop(), and an invalidation writer per alias of
    `invalidating`; the record the check reads. `follow`: the settings file to read anew
    when it changes (FollowedSettings); `fresh`: a new connection for every write."""
    logs: dict[str, WriterLog] = {}
    invalidations: dict[str, InvalidationLog] = {}
    started = time.time()
    followed = FollowedSettings(follow) if follow else None

    def work(alias: str) -> None:
        logs[alias] = write_until(alias, run, phase, stop, interval=interval, follow=followed, fresh=fresh)

    def invalidate(alias: str) -> None:
        invalidations[alias] = invalidate_until(alias, run, phase, stop, interval=interval)

    threads = [threading.Thread(target=work, args=(alias,), name=f"drill-{alias}") for alias in aliases]
    threads += [
        threading.Thread(target=invalidate, args=(alias,), name=f"drill-invalidate-{alias}")
        for alias in invalidating
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "schema": "cachewright.cachedrill/1",
        "run": run,
        "phase": phase,
        "started": started,
        "ended": time.time(),
        "aliases": {alias: logs[alias].as_dict() for alias in aliases},
        "invalidations": {alias: log.as_dict() for alias, log in invalidations.items()},
    }


def read_back(cache: Any, expected: dict[str, Any], settle: float | None = None) -> list[str]:
    """The keys whose value is not the expected one, after reading again for `settle` s
    (default SETTLE_S)."""
    wrong = list(expected)
    deadline = time.monotonic() + (SETTLE_S if settle is None else settle)
    while True:
        still = []
        for part in chunks(wrong):
            got = cache.get_many(list(part))
            still += [key for key in part if got.get(key) != expected[key]]
        wrong = still
        if not wrong or time.monotonic() > deadline:
            return wrong
        time.sleep(0.2)


def verify(
    run: str, aliases: Sequence[str], seed_keys: int, writes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Per alias: seed keys kept and lost, acknowledged writes readable and lost."""
    report: dict[str, Any] = {}
    for alias in aliases:
        cache = drill_cache(alias)
        row: dict[str, Any] = {"alias": alias}
        if seed_keys:
            lost = read_back(cache, expected_seed(run, seed_keys))
            row.update(seed_before=seed_keys, seed_after=seed_keys - len(lost), seed_lost=len(lost))
        log = (writes or {}).get("aliases", {}).get(alias)
        if log:
            phase = writes["phase"]  # type: ignore[index]
            acked = {
                write_key(run, phase, seq): value_of(write_key(run, phase, seq))
                for seq in log["acknowledged"]
            }
            lost = read_back(cache, acked)
            row.update(
                acknowledged=len(acked),
                acknowledged_lost=len(lost),
                lost_examples=lost[:5],
                failed=log["failed"],
                longest_window_s=log["longest_window_s"],
                windows=[w["seconds"] for w in log["windows"]],
                slowest_ack_s=log["slowest_ack_s"],
                reloads=log.get("reloads", 0),
            )
        invalidation = (writes or {}).get("invalidations", {}).get(alias)
        if invalidation:
            row["invalidation"] = {
                **{k: v for k, v in invalidation.items() if k != "alias"},
                **verify_invalidations(run, writes["phase"], cache, invalidation["steps"]),  # type: ignore[index]
            }
        report[alias] = row
    return report


def clean(run: str, aliases: Sequence[str], seed_keys: int, writes: Sequence[dict[str, Any]] = ()) -> int:
    """Delete the drill's own keys (never clear()); how many were asked to go."""
    removed = 0
    for alias in aliases:
        cache = drill_cache(alias)
        keys = [seed_key(run, i) for i in range(seed_keys)]
        for record in writes:
            log = record.get("aliases", {}).get(alias) or {}
            keys += [write_key(run, record["phase"], seq) for seq in range(log.get("attempts", 0))]
            steps = (record.get("invalidations", {}).get(alias) or {}).get("steps", 0)
            keys += [invalidation_key(run, record["phase"], i) for i in range(steps + INVALIDATION_LAG)]
        for part in chunks(keys):
            cache.delete_many(list(part))
        removed += len(keys)
    return removed


# (value size in bytes, rounds) of the read-after-write check: small, large, very large.
READ_AFTER_WRITE = ((100, 300), (64 * 1024, 300), (512 * 1024, 60))


def read_after_write(
    alias: str, plan: Sequence[tuple[int, int]] = READ_AFTER_WRITE, cache: Any = None
) -> dict[str, str]:
    """set() then get() at once, as a request that writes and the next that reads: how many
    reads missed the value just written, per value size ("0/300" is what Django promises)."""
    cache = cache or drill_cache(alias)
    found: dict[str, str] = {}
    for size, rounds in plan:
        value = "v" * size
        keys = [f"cwdrill:raw:{size}:{n}" for n in range(rounds)]
        missed = 0
        for key in keys:
            cache.set(key, value, 60)
            missed += cache.get(key) != value
        cache.delete_many(keys)
        found[f"{size} B"] = f"{missed}/{rounds}"
    return found


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=True)

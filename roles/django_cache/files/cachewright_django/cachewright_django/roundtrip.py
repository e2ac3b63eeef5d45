"""A live round trip on every cache alias of the loaded Django settings.

Run after every deploy (roles/django_cache) and by hand::

    python manage.py cache_roundtrip [--aliases default sessions] [--json]
    DJANGO_SETTINGS_MODULE=mysite.settings python -m cachewright_django.roundtrip

Each alias gets set/get/add/delete, set_many/get_many/delete_many, incr, touch, and a key
written with another version (the key carries the alias's KEY_PREFIX and VERSION). Only the
round trip's own keys are written and deleted; ``clear()`` is never called. DummyCache
aliases (and every alias under DISABLE_CACHE) are checked to cache nothing. Exit status 1
names each alias that failed with its exception. A DatabaseCache alias also shows that its
row is written and read on the table's own database, and on no other.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

DUMMY = "django.core.cache.backends.dummy.DummyCache"
DATABASE = "django.core.cache.backends.db.DatabaseCache"
# django-redis reads from the replicas when LOCATION lists some: a fresh write may take a few
# milliseconds to reach them.
REPLICA_LAG_S = 1.0


class RoundTripError(AssertionError):
    """An operation gave another answer than a working cache gives."""


def _expect(label: str, got: Any, want: Any) -> None:
    if got != want:
        raise RoundTripError(f"{label}: got {got!r}, expected {want!r}")


def settle(seen: Callable[[], bool], seconds: float) -> bool:
    """Whether `seen` holds, asked again every 10 ms for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while not seen():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _read(label: str, read: Callable[[], Any], want: Any) -> None:
    """A read must give `want`; retried for up to REPLICA_LAG_S, as reads may go to a replica."""
    if not settle(lambda: read() == want, REPLICA_LAG_S):
        _expect(label, read(), want)


def _steps(cache: Any, base: str) -> list[tuple[str, Callable[[], None]]]:
    """The operations of one alias, each checking its own answer."""
    key, other, counter, versioned = f"{base}:key", f"{base}:other", f"{base}:counter", f"{base}:versioned"
    many = {f"{base}:many:{n}": {"n": n, "text": "é" * n} for n in range(3)}
    return [
        ("set/get", lambda: (cache.set(key, {"v": 1}, 60), _read("get", lambda: cache.get(key), {"v": 1}))),
        ("add existing", lambda: _expect("add of an existing key", cache.add(key, "x", 60), False)),
        ("add new", lambda: _expect("add of a new key", cache.add(other, "y", 60), True)),
        ("delete", lambda: (cache.delete(other), _read("get after delete", lambda: cache.get(other), None))),
        (
            "set_many/get_many",
            lambda: (cache.set_many(many, 60), _read("get_many", lambda: cache.get_many(list(many)), many)),
        ),
        (
            "delete_many",
            lambda: (
                cache.delete_many(list(many)),
                _read("get_many after delete_many", lambda: cache.get_many(list(many)), {}),
            ),
        ),
        ("incr", lambda: (cache.set(counter, 41, 60), _expect("incr", cache.incr(counter), 42))),
        ("touch", lambda: _expect("touch", cache.touch(key, 120), True)),
        ("version", lambda: _version(cache, versioned)),
    ]


def _version(cache: Any, key: str) -> None:
    """A key set with version+1 is not the same key as with the alias's VERSION."""
    version = int(getattr(cache, "version", 1)) + 1
    cache.set(key, "v2", 60, version=version)
    _read("get with the other version", lambda: cache.get(key, version=version), "v2")
    _expect("get with the alias's version", cache.get(key), None)
    made = cache.make_key(key, version=version)
    prefix = getattr(cache, "key_prefix", "")
    if prefix and not made.startswith(f"{prefix}:{version}:"):
        raise RoundTripError(f"make_key gave {made!r}, not {prefix!r}:{version}:...")
    cache.delete(key, version=version)


def _own_database(cache: Any, base: str) -> None:
    """The row of a new key is on the table's own database only, and get() reads it there.

    The table's database is the one the generated settings name (CACHEWRIGHT_CACHE_DATABASES),
    else the routers' answer. Every database of DATABASES that has the table is looked at.
    """
    from django.conf import settings  # noqa: PLC0415
    from django.db import connections, router  # noqa: PLC0415

    table = cache._table
    declared = getattr(settings, "CACHEWRIGHT_CACHE_DATABASES", {})
    wanted = declared.get(table) or router.db_for_write(cache.cache_model_class)
    key = f"{base}:placed"
    cache.set(key, "here", 60)
    made = cache.make_and_validate_key(key)
    holding = []
    for name in settings.DATABASES:
        connection = connections[name]
        if table not in connection.introspection.table_names():
            continue
        with connection.cursor() as cursor:
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT COUNT(*) FROM {quoted} WHERE cache_key = %s", [made])
            if cursor.fetchone()[0]:
                holding.append(name)
    _expect(f"databases holding the new row of table {table!r}", holding, [wanted])
    _expect(f"get of the row on database {wanted!r}", cache.get(key), "here")
    cache.delete(key)


def _dummy_steps(cache: Any, base: str) -> list[tuple[str, Callable[[], None]]]:
    key = f"{base}:key"
    return [
        ("set/get caches nothing", lambda: (cache.set(key, 1, 60), _expect("get", cache.get(key), None))),
    ]


def check_alias(alias: str) -> dict[str, Any]:
    """Run the round trip on one alias; the result names the failed operation and exception."""
    from django.conf import settings  # noqa: PLC0415 - imported once Django is configured
    from django.core.cache import caches  # noqa: PLC0415

    backend = settings.CACHES[alias]["BACKEND"]
    base = f"cachewright:roundtrip:{uuid.uuid4().hex[:12]}"
    result: dict[str, Any] = {"alias": alias, "backend": backend, "ok": True, "ops": []}
    start = time.perf_counter()
    step = "connect"
    try:
        cache = caches[alias]
        steps = _dummy_steps(cache, base) if backend == DUMMY else _steps(cache, base)
        if backend == DATABASE:
            steps.append(("own database", lambda: _own_database(cache, base)))
        for step, run in steps:
            run()
            result["ops"].append(step)
        cache.delete_many([f"{base}:key", f"{base}:other", f"{base}:counter"])
    except Exception as error:  # noqa: BLE001 - every failure is reported with its alias
        result.update(ok=False, failed_op=step, error=f"{type(error).__name__}: {error}")
    result["ms"] = round((time.perf_counter() - start) * 1000, 1)
    return result


def run(aliases: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Round trips on the given aliases (default: every alias of CACHES)."""
    from django.conf import settings  # noqa: PLC0415

    return [check_alias(alias) for alias in (aliases or list(settings.CACHES))]


def summary(results: list[dict[str, Any]]) -> str:
    """One line per alias: ok with its time, or the failed operation and exception."""
    lines = []
    for r in results:
        if r["ok"]:
            status = f"ok ({len(r['ops'])} ops, {r['ms']} ms)"
        else:
            status = f"FAILED at {r['failed_op']}: {r['error']}"
        lines.append(f"{r['alias']:<16} {r['backend'].rsplit('.', 1)[-1]:<20} {status}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m cachewright_django.roundtrip [--json] [ALIAS...]``."""
    import django  # noqa: PLC0415

    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    django.setup()
    results = run([a for a in args if a != "--json"] or None)
    print(json.dumps(results, indent=2) if as_json else summary(results))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

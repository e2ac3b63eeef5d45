"""Django system checks (``manage.py check``, and before ``runserver`` and ``migrate``) for the
settings this package's backends read, so a mistake is named at start-up instead of raising
at the first request that uses the alias.

=====================  =====================================================================
id                     what it finds
=====================  =====================================================================
cachewright.E001       a TieredCache alias without two or more tiers in ``OPTIONS["TIERS"]``
cachewright.E002       a tier that is not an alias in CACHES
cachewright.E003       a tier that is the alias itself, or tiers that lead back to it
cachewright.E004       ``OPTIONS["TIMEOUTS"]`` not one number or None per tier
cachewright.E005       ``OPTIONS["WRITE_TO"]`` neither ``"all"`` nor one of the tiers
cachewright.E010       ``CACHEWRIGHT_CACHE_DATABASES`` not a mapping of table to database
cachewright.E011       a cache table sent to a database that is not in DATABASES
cachewright.W012       a DatabaseCache table the router does not know (its queries go to
                       ``default``)
cachewright.E020       an alias using a class of this package whose library is not installed
                       (the extra to install is named)
cachewright.E021       an ACL user (``OPTIONS["USERNAME"]``) with django-redis older than 7,
                       which does not pass it on: every connection would log in as ``default``
cachewright.W030       a TLS file of a PyMemcacheTLSCache alias that this process cannot read
=====================  =====================================================================
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from django.core import checks

from .routers import CacheRouter

TIERED = "cachewright_django.tiered.TieredCache"
ROUTER = "cachewright_django.routers.CacheRouter"
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"
TLS_MEMCACHED = "cachewright_django.memcached.PyMemcacheTLSCache"

# The library each of this package's modules needs, and the extra that installs it.
NEEDS = {
    "cachewright_django.redis": ("django_redis", "redis"),
    "cachewright_django.sentinel": ("django_redis", "redis"),
    "cachewright_django.redis_cluster": ("django_redis", "redis"),
    "cachewright_django.memcached": ("pymemcache", "memcached"),
}


def _caches(settings: Any) -> Mapping[str, Any]:
    caches = getattr(settings, "CACHES", {})
    return caches if isinstance(caches, Mapping) else {}


def _options(config: Any) -> Mapping[str, Any]:
    options = config.get("OPTIONS") if isinstance(config, Mapping) else None
    return options if isinstance(options, Mapping) else {}


def check_tiered(caches: Mapping[str, Any]) -> list[checks.CheckMessage]:
    """The tiers of every TieredCache alias name other aliases, without a loop."""
    found: list[checks.CheckMessage] = []
    tiers_of: dict[str, list[str]] = {}
    for alias, config in caches.items():
        if not isinstance(config, Mapping) or config.get("BACKEND") != TIERED:
            continue
        options = _options(config)
        where = f'CACHES["{alias}"]["OPTIONS"]'
        tiers = options.get("TIERS")
        if (
            not isinstance(tiers, list | tuple)
            or len(tiers) < 2
            or not all(isinstance(t, str) for t in tiers)
        ):
            found.append(
                checks.Error(
                    f'{where}["TIERS"] must list two or more cache aliases, fastest first (it is {tiers!r}).',
                    id="cachewright.E001",
                )
            )
            continue
        tiers_of[alias] = list(tiers)
        for tier in tiers:
            if tier not in caches:
                found.append(
                    checks.Error(
                        f'{where}["TIERS"] names "{tier}", which is not an alias in CACHES.',
                        hint=f"Aliases in CACHES: {', '.join(sorted(caches))}.",
                        id="cachewright.E002",
                    )
                )
        timeouts = options.get("TIMEOUTS")
        if timeouts is not None and (
            not isinstance(timeouts, list | tuple)
            or len(timeouts) != len(tiers)
            or not all(
                t is None or (isinstance(t, int | float) and not isinstance(t, bool)) for t in timeouts
            )
        ):
            found.append(
                checks.Error(
                    f'{where}["TIMEOUTS"] must hold one number of seconds (or None) per tier: '
                    f"{len(tiers)} for {list(tiers)} (it is {timeouts!r}).",
                    id="cachewright.E004",
                )
            )
        write_to = options.get("WRITE_TO", "all")
        if write_to != "all" and write_to not in tiers:
            found.append(
                checks.Error(
                    f'{where}["WRITE_TO"] is {write_to!r}: it must be "all" or one of the '
                    f"tiers {list(tiers)}.",
                    id="cachewright.E005",
                )
            )
    for alias in tiers_of:
        path = _loop(alias, tiers_of)
        if path:
            found.append(
                checks.Error(
                    f'CACHES["{alias}"] reads through itself: {" -> ".join(path)}.',
                    hint="A tier is another alias, and not a tiered one with this alias among its tiers.",
                    id="cachewright.E003",
                )
            )
    return found


def _loop(start: str, tiers_of: Mapping[str, list[str]]) -> list[str]:
    """The aliases from `start` back to itself through tiers, or [] when there is no loop."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        alias, path = stack.pop()
        for tier in tiers_of.get(alias, []):
            if tier == start:
                return [*path, tier]
            if tier not in seen:
                seen.add(tier)
                stack.append((tier, [*path, tier]))
    return []


def check_router(settings: Any, caches: Mapping[str, Any]) -> list[checks.CheckMessage]:
    """With the cache router installed, its table map names known databases and tables."""
    routers = getattr(settings, "DATABASE_ROUTERS", []) or []
    if not any(r == ROUTER or isinstance(r, CacheRouter) for r in routers):
        return []
    tables = getattr(settings, "CACHEWRIGHT_CACHE_DATABASES", {})
    if not isinstance(tables, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tables.items()
    ):
        return [
            checks.Error(
                "CACHEWRIGHT_CACHE_DATABASES must map each DatabaseCache table to a database alias "
                f'({{"my_cache_table": "default"}}), not {tables!r}.',
                id="cachewright.E010",
            )
        ]
    found: list[checks.CheckMessage] = []
    databases = getattr(settings, "DATABASES", {}) or {}
    for table, database in tables.items():
        if database not in databases:
            found.append(
                checks.Error(
                    f'CACHEWRIGHT_CACHE_DATABASES sends the cache table "{table}" to the database '
                    f'"{database}", which is not in DATABASES.',
                    hint=f"Databases: {', '.join(sorted(databases))}.",
                    id="cachewright.E011",
                )
            )
    for alias, config in caches.items():
        if isinstance(config, Mapping) and config.get("BACKEND") == DATABASE_CACHE:
            table = config.get("LOCATION")
            if table not in tables:
                found.append(
                    checks.Warning(
                        f'CACHES["{alias}"] keeps its keys in the table "{table}", which '
                        "CACHEWRIGHT_CACHE_DATABASES does not name: its queries go to the default database.",
                        id="cachewright.W012",
                    )
                )
    return found


def _names(config: Mapping[str, Any]) -> Iterable[str]:
    """The dotted names an alias's settings give: its backend and the classes in its OPTIONS."""
    yield str(config.get("BACKEND", ""))
    for value in _options(config).values():
        if isinstance(value, str) and "." in value:
            yield value


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _django_redis_major() -> int | None:
    try:
        return int(metadata.version("django-redis").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def check_libraries(caches: Mapping[str, Any]) -> list[checks.CheckMessage]:
    """What the aliases use of this package is installed with the library it needs."""
    found: list[checks.CheckMessage] = []
    for alias, config in caches.items():
        if not isinstance(config, Mapping):
            continue
        for name in _names(config):
            for module, (library, extra) in NEEDS.items():
                if name.startswith(module + ".") and not _installed(library):
                    found.append(
                        checks.Error(
                            f'CACHES["{alias}"] uses {name}, which needs {library}: it is not installed.',
                            hint=f"pip install 'cachewright-django[{extra}]'",
                            id="cachewright.E020",
                        )
                    )
        uses_django_redis = any(
            n.startswith(("django_redis.", "cachewright_django.redis")) for n in _names(config)
        )
        major = _django_redis_major()
        if uses_django_redis and _options(config).get("USERNAME") and major is not None and major < 7:
            found.append(
                checks.Error(
                    f'CACHES["{alias}"] logs in as the ACL user in OPTIONS["USERNAME"], which django-redis '
                    f"{metadata.version('django-redis')} does not pass on to redis-py.",
                    hint="pip install 'django-redis>=7' (or 'cachewright-django[redis]').",
                    id="cachewright.E021",
                )
            )
    return found


def check_tls_files(caches: Mapping[str, Any]) -> list[checks.CheckMessage]:
    """The certificate files of every TLS memcached alias are readable by this process."""
    found: list[checks.CheckMessage] = []
    for alias, config in caches.items():
        if not isinstance(config, Mapping) or config.get("BACKEND") != TLS_MEMCACHED:
            continue
        tls = _options(config).get("tls") or {}
        for key in ("ca_certs", "certfile", "keyfile"):
            path = tls.get(key) if isinstance(tls, Mapping) else None
            if path and not os.access(path, os.R_OK):
                found.append(
                    checks.Warning(
                        f'CACHES["{alias}"]["OPTIONS"]["tls"]["{key}"] is {path}, '
                        "which this process cannot read: "
                        "every call of the alias would fail.",
                        id="cachewright.W030",
                    )
                )
    return found


@checks.register(checks.Tags.caches)
def check_cache_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every check above, on the project's settings."""
    from django.conf import settings  # noqa: PLC0415 - read when the checks run

    caches = _caches(settings)
    return [
        *check_tiered(caches),
        *check_router(settings, caches),
        *check_libraries(caches),
        *check_tls_files(caches),
    ]

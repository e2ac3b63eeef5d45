"""Send each DatabaseCache table to the database the inventory gave it.

Django's DatabaseCache asks the database routers where its table lives; with none, every
cache query goes to ``default`` whatever database ``createcachetable`` was run on. The
generated settings name the table of each database alias and its database::

    CACHEWRIGHT_CACHE_DATABASES = {"api_cache": "default", "reports_cache": "cachedb"}
    DATABASE_ROUTERS = ["cachewright_django.routers.CacheRouter"]

An app with routers of its own lists this one first (``[*CACHEWRIGHT_DATABASE_ROUTERS,
"myapp.routers.Router"]``): it answers only for the cache tables it knows and returns
None for every other model, so the next router decides.
"""

from __future__ import annotations

from typing import Any

CACHE_APP_LABEL = "django_cache"


class CacheRouter:
    """Reads, writes and createcachetable of each known cache table on its own database."""

    def __init__(self) -> None:
        from django.conf import settings  # noqa: PLC0415 - routers are made once settings load

        self.tables: dict[str, str] = dict(getattr(settings, "CACHEWRIGHT_CACHE_DATABASES", {}))

    def database_of(self, model: Any) -> str | None:
        meta = getattr(model, "_meta", None)
        if meta is None or meta.app_label != CACHE_APP_LABEL:
            return None
        return self.tables.get(meta.db_table)

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return self.database_of(model)

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return self.database_of(model)

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if app_label != CACHE_APP_LABEL or "model" not in hints:
            return None
        wanted = self.database_of(hints["model"])
        return None if wanted is None else db == wanted

"""The Django app: ``cachewright_django`` in INSTALLED_APPS adds the management commands and
the system checks of :mod:`cachewright_django.checks`."""

from __future__ import annotations

from django.apps import AppConfig


class CachewrightConfig(AppConfig):
    name = "cachewright_django"
    verbose_name = "Cachewright cache tier"

    def ready(self) -> None:
        from . import checks  # noqa: F401, PLC0415 - registers the checks once the apps are loaded

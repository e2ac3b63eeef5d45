"""Cachewright's app-side additions to Django's cache framework (installed on app hosts)."""

# SPDX-License-Identifier: Apache-2.0
"""Shared pytest setup: role filter plugins are importable as plain modules. The collection's
module_utils and plugin_utils import as its plugins import them (pyproject.toml puts
collections/ on the path): ansible_collections.cachewright.cache.plugins.<module_utils|plugin_utils>.<name>.

Under the package's version matrix (django_settings/cachewright-django/noxfile.py sets
CW_PACKAGE_WHEEL), no test runs unless cachewright_django is the installed wheel's copy."""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("CW_PACKAGE_WHEEL"):
        return
    import cachewright_django  # noqa: PLC0415 - only under the matrix

    where = Path(cachewright_django.__file__).resolve()
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    if not where.is_relative_to(purelib):
        pytest.exit(f"cachewright_django is imported from {where}, not from {purelib}: not the wheel", 4)


def load_plugin(relative_path: str) -> ModuleType:
    """Import a file of the repo (e.g. a role's filter plugin) by its path."""
    path = ROOT / relative_path
    name = "cw_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

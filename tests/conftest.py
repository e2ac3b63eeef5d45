"""Shared pytest setup: role filter plugins are importable as plain modules. The collection's
module_utils import as its modules import them (pyproject.toml puts collections/ on the path):
ansible_collections.cachewright.cache.plugins.module_utils.<name>."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


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

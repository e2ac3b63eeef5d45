# SPDX-License-Identifier: Apache-2.0
"""Shared pytest setup: role filter plugins are importable as plain modules. The collection's
module_utils and plugin_utils import as its plugins import them (pyproject.toml puts
collections/ on the path): ansible_collections.cachewright.cache.plugins.<module_utils|plugin_utils>.<name>.

Under the package's version matrix (django_settings/cachewright-django/noxfile.py sets
CW_PACKAGE_WHEEL), no test runs unless cachewright_django is the installed wheel's copy."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
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


# The kinds of test (pytest -m unit|live|e2e): `unit` runs Python only, in this process;
# `live` runs real programs (servers on loopback, ansible-playbook and ansible-doc, promtool,
# pip and virtualenvs); `e2e` builds the lab or the installed collection (switched on by
# CW_LAB_E2E / CW_COLLECTION_E2E). A module is unit unless named here (a test of a unit
# module that runs a program carries @pytest.mark.live itself); a unit test that starts a
# program fails, naming this table.
KIND = {
    "test_lab_main_job.py": "e2e",
    "test_collection_install.py": "e2e",
    **dict.fromkeys(
        [
            "test_alert_rules.py", "test_bench_live.py", "test_bench_server.py", "test_changelog.py",
            "test_django_cache_inventories.py", "test_host_python.py", "test_images.py",
            "test_memcached_input.py", "test_memcached_invalidation.py", "test_memcached_lean.py",
            "test_memcached_tls_client.py", "test_module_docs.py", "test_module_utils_memcached.py",
            "test_module_utils_redis.py", "test_package.py", "test_package_installed.py",
            "test_plugin_docs.py", "test_preflight.py", "test_redis_clients.py",
            "test_redis_cluster_client.py", "test_redis_live_settings.py", "test_redis_server_input.py",
            "test_redis_state_live.py", "test_remove_host_input.py", "test_server_input_properties.py",
        ],
        "live",
    ),
}  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test gets its module's kind, unless it is marked live or e2e itself."""
    for item in items:
        if not any(item.get_closest_marker(kind) for kind in ("live", "e2e")):
            item.add_marker(getattr(pytest.mark, KIND.get(item.path.name, "unit")))


@pytest.fixture(autouse=True)
def _unit_tests_start_no_program(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(self: subprocess.Popen, args: object, *rest: object, **kwargs: object) -> None:
        raise AssertionError(
            f"a unit test started {args!r}: mark its module live in tests/conftest.py (KIND)"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def require(*binaries: str) -> None:
    """Skip a live test when a program it needs is missing, saying which and how to get it;
    fail instead under `make test` (CW_REQUIRE_PROGRAMS=1), whose scripts install them."""
    missing = [name for name in binaries if shutil.which(name) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (Debian: apt install redis-server memcached prometheus)"
    if os.environ.get("CW_REQUIRE_PROGRAMS"):
        pytest.fail(message + "; make test installs them", pytrace=False)
    pytest.skip(message, allow_module_level=True)

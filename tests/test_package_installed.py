# SPDX-License-Identifier: Apache-2.0
"""cachewright_django as the Python running the tests has it installed: every app-side module
imports with the redis and memcached extras (the report's is the controller's), and the
README's CACHES example builds every alias and passes ``manage.py check`` in a fresh process.

The README is read from the installed distribution's metadata (its description), so these
run against the repository's editable install and against the built wheel of the version
matrix (django_settings/cachewright-django/noxfile.py) alike; under the matrix
(CW_PACKAGE_WHEEL names the wheel) the files imported are checked to be the wheel's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import cachewright_django
import pytest

WHEEL = os.environ.get("CW_PACKAGE_WHEEL")

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, cachewright_django
names = [m.name for m in pkgutil.walk_packages(cachewright_django.__path__, "cachewright_django.")]
for name in names:
    if not name.startswith("cachewright_django.report"):  # the [report] extra, for the controller
        importlib.import_module(name)
print(len(names), cachewright_django.__file__)
"""

README_PROJECT = """
SECRET_KEY = "test-only-not-a-secret"
INSTALLED_APPS = ["cachewright_django"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
SILENCED_SYSTEM_CHECKS = ["cachewright.W030"]  # the example's certificate files are not here
"""

README_CHECK = """
import django
django.setup()
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command
call_command("check", fail_level="WARNING")
for alias in settings.CACHES:
    caches[alias].make_and_validate_key("probe")
    print(alias)
"""

README_ALIASES = [
    "default",
    "sessions",
    "cluster",
    "fragments",
    "fragments_tls",
    "local",
    "tiered",
    "exports",
]


def readme_caches_example(readme: str) -> str:
    """The README's one Python block that sets CACHES."""
    (example,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "CACHES = {" in b]
    return example


def test_every_app_side_module_imports() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    count, where = done.stdout.split()
    assert int(count) > 20 and Path(where) == Path(cachewright_django.__file__)


def assert_readme_example_checks(python: str, readme: str, project: Path) -> None:
    """The README's CACHES example as a Django project's settings (in `project`), run by
    `python`: every alias builds its backend and `manage.py check` finds no issue."""
    (project / "readme_settings.py").write_text(README_PROJECT + readme_caches_example(readme))
    done = subprocess.run(
        [python, "-c", README_CHECK], cwd=project, capture_output=True, text=True, check=False,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "readme_settings",
             "PYTHONPATH": str(project)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    checked, *aliases = done.stdout.splitlines()
    assert checked.startswith("System check identified no issues")
    assert aliases == README_ALIASES


def test_the_readme_caches_example_passes_the_checks(tmp_path: Path) -> None:
    readme = metadata.metadata("cachewright-django").get_payload()
    assert isinstance(readme, str)
    assert_readme_example_checks(sys.executable, readme, tmp_path)


@pytest.mark.skipif(not WHEEL, reason="the version matrix's check (CW_PACKAGE_WHEEL names the wheel)")
def test_the_package_imported_is_the_wheel_s() -> None:
    package = Path(cachewright_django.__file__).resolve().parent
    assert package.parent == Path(sysconfig.get_paths()["purelib"]).resolve()
    with zipfile.ZipFile(str(WHEEL)) as wheel:
        sources = [n for n in wheel.namelist() if n.startswith("cachewright_django/") and not n.endswith("/")]
        assert len(sources) > 20
        different = [n for n in sources if (package.parent / n).read_bytes() != wheel.read(n)]
    assert different == []
    version = Path(str(WHEEL)).name.split("-")[1]
    assert metadata.version("cachewright-django") == version

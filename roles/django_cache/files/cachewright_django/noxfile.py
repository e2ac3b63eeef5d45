"""The version matrix of cachewright-django, run against its built wheel.

One wheel is built from this folder (as roles/django_cache builds it on the controller:
``pip wheel`` with setuptools >= 77, in a copy of the sources). Then one session per cell
(a Python and a Django series, below) installs ``cachewright-django[redis,memcached,hiredis]`` from
that wheel with the Django series, the newest django-redis, redis and pymemcache that the
package's extras and that Django allow, and the test tools at the kit's pins; and it runs
the package's tests (MATRIX_TESTS, from the repository's tests/ folder) against the
installed copy: from a folder that holds the tests but not the sources, and tests/conftest.py
stops the run unless ``cachewright_django`` is the wheel's, in the venv's site-packages.

- ``nox -f django_settings/cachewright-django/noxfile.py`` runs every cell here (each
  python3.X must be installed, and redis-server, redis-cli, memcached and openssl: the tests
  start them on loopback, on some fixed ports);
- scripts/package-matrix.sh runs each cell in a container of the test images instead, where
  the interpreters and the servers are Debian's and the ports are the container's own: it
  calls the ``stage`` session here, then ``tests`` with ``-p 3.X`` in each container.

The staged folder (``stage``) holds this file, ``stage.json``, ``wheel/``, the tests and a
pytest.ini; a noxfile that finds ``stage.json`` beside itself runs from it without building.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

HERE = Path(__file__).resolve().parent
STAGED = (HERE / "stage.json").is_file()

# (Python, Django series). Django 6.x needs Python >= 3.12: 3.11 gets 5.2 LTS only.
# django-redis 7.0 allows Django >= 5.2, < 7.
CELLS = [("3.11", "5.2"), ("3.13", "5.2"), ("3.13", "6.0"), ("3.13", "6.1")]
EXTRAS = "redis,memcached,hiredis"  # what roles/django_cache installs on app hosts
# The tests of the app-side package that need nothing of the repository but the helpers below:
# no ansible, no roles, no report extra (matplotlib, Jinja2: the controller's). The servers
# some of them start are redis-server (a cluster, an ACL user, TLS) and memcached (TLS too).
# Not here: test_package.py (builds the wheel from the source tree, reads the role's pins),
# test_bench_report*.py, test_bench_gates.py, test_bench_selector.py, test_bench_server.py,
# test_bench_live.py (the report extra), test_django_cache_*.py (the roles' settings plugin).
MATRIX_TESTS = [
    "test_package_installed.py",
    "test_django_checks.py",
    "test_tiered_cache.py",
    "test_roundtrip.py",
    "test_contract.py",
    "test_drill.py",
    "test_bench_runner.py",
    "test_bench_stats.py",
    "test_bench_raw.py",
    "test_memcached_lean.py",
    "test_memcached_invalidation.py",
    "test_memcached_tls_client.py",
    "test_redis_clients.py",
    "test_redis_cluster_client.py",
]
# What those tests import from tests/ besides themselves.
TEST_HELPERS = ["conftest.py", "memcached_servers.py", "redis_cluster_fixture.py", "redis_nodes_fixture.py"]
# test_redis_clients.py takes the app user's ACL line from the role's own code (stdlib only),
# by its path in the staged root (collections/ links to it, as in the repository).
REPO_FILES = ["plugins/plugin_utils/redis_acl.py"]
# The test tools, at the versions requirements.txt pins (pylibmc: a bench session's library).
TEST_TOOLS = ["pytest", "hypothesis", "cryptography", "pylibmc"]

PYTEST_INI = """\
[pytest]
testpaths = tests
pythonpath = tests collections
addopts = -ra -p no:cacheprovider
"""

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True  # a cell without its Python fails
nox.options.download_python = "never"  # the system's interpreters, not downloaded ones


def _repo() -> Path:
    # roles/django_cache/files/cachewright_django/noxfile.py
    return HERE.parents[3]


# The virtualenvs: never in this folder (the role copies it whole to build the wheel).
nox.options.envdir = str(HERE / ".nox" if STAGED else _repo() / ".cache" / "package-matrix" / "nox")


def _pins(requirements: Path, names: list[str]) -> list[str]:
    """`name==version` lines of requirements.txt for these names (a name not pinned: unpinned)."""
    lines = requirements.read_text().splitlines() if requirements.is_file() else []
    found = {line.split("==")[0].strip().lower(): line.split()[0] for line in lines if "==" in line}
    return [found.get(name.lower(), name) for name in names]


def _build_wheel(out: Path) -> Path:
    """pip wheel in a copy of the sources, with fixed timestamps (the role's build)."""
    with tempfile.TemporaryDirectory(prefix="cw-wheel-") as work:
        src = Path(work) / "src"
        shutil.copytree(
            HERE,
            src,
            ignore=shutil.ignore_patterns("*.egg-info", "build", ".nox", "__pycache__", "noxfile.py"),
        )
        argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--quiet"]
        try:
            import setuptools  # noqa: PLC0415

            major = int(setuptools.__version__.split(".")[0])
        except ImportError:
            major = 0
        if major >= 77:  # the setuptools pyproject.toml asks for: build with it, as the role does
            argv.append("--no-build-isolation")
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.whl"):
            old.unlink()
        subprocess.run(
            [*argv, "--wheel-dir", str(out), str(src)],
            check=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
        )
    (wheel,) = out.glob("cachewright_django-*.whl")
    return wheel


@functools.cache
def staged() -> Path:
    """The folder the cells run from: this one when staged, else one made now (once per run)."""
    if STAGED:
        return HERE
    root = _repo()
    target = Path(os.environ.get("CW_MATRIX_STAGE") or tempfile.mkdtemp(prefix="cw-matrix-"))
    if target.exists():
        shutil.rmtree(target)
    (target / "tests").mkdir(parents=True)
    wheel = _build_wheel(target / "wheel")
    for name in [*TEST_HELPERS, *MATRIX_TESTS]:
        shutil.copy2(root / "tests" / name, target / "tests" / name)
    for name in REPO_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target / name)
    (target / "collections" / "ansible_collections" / "cachewright").mkdir(parents=True)
    (target / "collections" / "ansible_collections" / "cachewright" / "cache").symlink_to("../../..")
    (target / "pytest.ini").write_text(PYTEST_INI)
    shutil.copy2(HERE / "noxfile.py", target / "noxfile.py")
    stage = {
        "wheel": wheel.name,
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "tests": MATRIX_TESTS,
        "test_tools": _pins(root / "requirements.txt", TEST_TOOLS),
    }
    (target / "stage.json").write_text(json.dumps(stage, indent=2) + "\n")
    return target


def _results_dir() -> Path:
    results = Path(os.environ.get("CW_MATRIX_RESULTS") or staged() / "results")
    results.mkdir(parents=True, exist_ok=True)
    return results


VERSIONS = """
import json, platform, sys
from importlib import metadata
names = ["cachewright-django", "Django", "django-redis", "redis", "pymemcache", "pylibmc", "pytest"]
found = {"python": platform.python_version()}
found.update({n: metadata.version(n) for n in names})
with open(sys.argv[1], "w") as out:
    json.dump(found, out, indent=2)
"""


@nox.session(python=False)
def stage(session: nox.Session) -> None:
    """Build the wheel and stage it with the tests (CW_MATRIX_STAGE, else a temporary folder)."""
    if STAGED:
        session.error("this is a staged copy: run stage from the project's noxfile")
    session.log(f"staged in {staged()}: {json.loads((staged() / 'stage.json').read_text())['wheel']}")


@nox.session
@nox.parametrize(
    ("python", "django"),
    [nox.param(python, django, id=f"py{python}-django{django}") for python, django in CELLS],
)
def tests(session: nox.Session, django: str) -> None:
    """One cell: the wheel with its extras, the Django series, the package's tests."""
    root = staged()
    stage_info = json.loads((root / "stage.json").read_text())
    wheel = root / "wheel" / stage_info["wheel"]
    cell = re.sub(r"[^\w.-]+", "_", f"py{session.python}-django{django}")
    results = _results_dir()
    session.install(f"{wheel}[{EXTRAS}]", f"Django~={django}.0", *stage_info["test_tools"])
    session.run("python", "-c", VERSIONS, str(results / f"{cell}.versions.json"), silent=True)
    with session.chdir(root):
        session.run(
            "pytest",
            "-c",
            str(root / "pytest.ini"),
            "--rootdir",
            str(root),
            f"--junitxml={results / f'{cell}.xml'}",
            *[f"tests/{name}" for name in stage_info["tests"]],
            *session.posargs,
            env={"CW_PACKAGE_WHEEL": str(wheel), "CW_REQUIRE_PROGRAMS": "1"},
        )

# SPDX-License-Identifier: Apache-2.0
"""The settings roles/django_cache renders for each inventory (prod, staging, lab).

Each inventory is rendered on the controller by tests/playbooks/render_django_cache.yml
(no host is touched), compared with the committed modules in django_settings/ (written by
`make django-settings`: a change to an inventory shows there in the diff),
and imported in a fresh Django process that builds every alias's backend and passes
Django's system checks, this package's among them (cachewright_django.checks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

SETTINGS = ROOT / "django_settings"
PLAYBOOK = ROOT / "tests" / "playbooks" / "render_django_cache.yml"


def render(inventory: str, out: Path) -> None:
    command = ["ansible-playbook", "-i", f"inventories/{inventory}", str(PLAYBOOK), "-e", f"cw_out={out}"]
    vault = ROOT / "inventories" / inventory / "vault-password.example"
    if vault.exists():
        command += ["--vault-password-file", str(vault)]
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module", params=["prod", "staging", "lab"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp(request.param)
    render(request.param, out)
    return request.param, out


def test_settings_match_the_committed_ones(rendered: tuple[str, Path]) -> None:
    """django_settings/<inventory>/<host>/cache_settings.py is what the role writes today."""
    inventory, out = rendered
    hosts = sorted(p.stem for p in out.glob("*.py"))
    assert hosts, f"no app host rendered for {inventory}"
    committed = sorted(p.name for p in (SETTINGS / inventory).iterdir() if p.is_dir())
    stale = "stale: run `make django-settings` and review the diff"
    assert committed == hosts, f"django_settings/{inventory}: {committed}, the inventory: {hosts}; {stale}"
    for host in hosts:
        module = SETTINGS / inventory / host / "cache_settings.py"
        got = (out / f"{host}.py").read_text()
        assert got == module.read_text(), f"{module.relative_to(ROOT)} is {stale}"


IMPORT_CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import django
from django.conf import settings
import cache_settings
tables = getattr(cache_settings, "CACHEWRIGHT_CACHE_DATABASES", {})
settings.configure(
    CACHES=cache_settings.CACHES,
    INSTALLED_APPS=[
        "django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions", "cachewright_django"
    ],
    # Every database the cache tables are sent to, as SQLite stand-ins.
    DATABASES={
        name: {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        for name in {"default", *tables.values()}
    },
    DATABASE_ROUTERS=getattr(cache_settings, "DATABASE_ROUTERS", []),
    CACHEWRIGHT_CACHE_DATABASES=tables,
    # The certificate files are on the app hosts, not here.
    SILENCED_SYSTEM_CHECKS=["cachewright.W030"],
    SESSION_ENGINE=getattr(cache_settings, "SESSION_ENGINE", "django.contrib.sessions.backends.db"),
    SESSION_CACHE_ALIAS=getattr(cache_settings, "SESSION_CACHE_ALIAS", "default"),
    USE_TZ=True,
)
django.setup()
from django.core.cache import caches
from django.core.management import call_command
call_command("check", fail_level="WARNING")
for alias, entry in cache_settings.CACHES.items():
    backend = caches[alias]
    name = type(backend).__module__ + "." + type(backend).__qualname__
    assert name == entry["BACKEND"], (alias, name)
    backend.make_and_validate_key("probe")
    print(alias, name)
"""


def test_settings_load_in_a_fresh_django_process(rendered: tuple[str, Path], tmp_path: Path) -> None:
    inventory, out = rendered
    for module in out.glob("*.py"):
        (tmp_path / "cache_settings.py").write_text(module.read_text())
        # The passwords where the module reads them (the inventories keep the default mode, files).
        secrets = json.loads(module.with_suffix(".secrets.json").read_text())
        (tmp_path / "cache_settings.secrets").mkdir(exist_ok=True)
        for name, value in secrets.items():
            (tmp_path / "cache_settings.secrets" / name).write_text(value + "\n")
        env = dict(os.environ)  # cachewright_django: installed in the virtualenv
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_CHECK, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{inventory}/{module.name}: {done.stderr[-3000:]}"
        assert "default" in done.stdout


def test_the_settings_module_holds_no_password(rendered: tuple[str, Path]) -> None:
    inventory, out = rendered
    for module in out.glob("*.py"):
        secrets = json.loads(module.with_suffix(".secrets.json").read_text())
        assert secrets, f"{inventory}/{module.name}: no password to look for"
        text = module.read_text()
        assert not [name for name, value in secrets.items() if value in text], f"{inventory}/{module.name}"
        assert all(f"_secret({name!r})" in text for name in secrets), text


def test_secrets_come_from_the_inventory_not_the_test() -> None:
    """The prod and staging settings hold passwords only through vault-referenced variables."""
    for inventory in ("prod", "staging"):
        for path in (ROOT / "inventories" / inventory).rglob("*.yml"):
            text = path.read_text()
            if text.startswith("$ANSIBLE_VAULT"):
                continue
            for line in text.splitlines():
                if "password:" in line.lower() and "{{" not in line:
                    pytest.fail(f"{path}: a password in plain text: {line.strip()}")

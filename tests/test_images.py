# SPDX-License-Identifier: Apache-2.0
"""The test images' local package caches (molecule/images/debs.txt and wheels.txt, used by
scripts/images.sh) cover what the roles and the scenarios install, so no install in a test
container quietly goes back to the network for a package the recipe forgot.

- every Debian package named in a role's vars (`*_packages`) or by an apt task with a literal
  name (roles' tasks, molecule/, the scenarios' playbooks) is in debs.txt;
- every client package of a scenario (cw_client_packages) is pinned in the app's pins, which
  go into the wheelhouse whole;
- every django_cache_pip_extra of the kit's inventories is in wheels.txt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "molecule" / "images"
APT = {"apt", "ansible.builtin.apt"}
# Package lists in the roles' vars that name Python packages (pip), not Debian's.
PIP_LISTS = {"__django_cache_base_packages"}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _debs() -> set[str]:
    return {line.split()[0] for line in _lines(IMAGES / "debs.txt")}


def _walk(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _playbook_files() -> list[Path]:
    files = [*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("roles/*/molecule/**/*.yml")]
    return [*files, *ROOT.glob("molecule/**/*.yml")]


def _apt_names() -> set[str]:
    names: set[str] = set()
    for path in _playbook_files():
        for node in _walk(yaml.safe_load(path.read_text())):
            for key in APT & node.keys():
                name = (node[key] or {}).get("name") if isinstance(node[key], dict) else None
                for item in [name] if isinstance(name, str) else name or []:
                    if "{{" not in item:
                        names.add(item)
    return names


def _vars_packages() -> set[str]:
    names: set[str] = set()
    for path in ROOT.glob("roles/*/vars/*.yml"):
        # Top-level lists (`__role_packages`) and each flavour's `packages` in its table.
        for node in _walk(yaml.safe_load(path.read_text()) or {}):
            for key, value in node.items():
                wanted = key == "packages" or key.endswith("_packages")
                if wanted and key not in PIP_LISTS and isinstance(value, list):
                    names.update(value)
    return names


def test_the_apt_tasks_are_found() -> None:
    # The scan reads the tasks it is meant to: the client venv's and the lab's database.
    assert {"python3-venv", "python3-pip", "postgresql", "redis-tools"} <= _apt_names()
    assert {"memcached", "redis-server", "redis-sentinel", "nftables"} <= _vars_packages()
    assert {"valkey-server", "valkey-sentinel", "valkey-tools"} <= _vars_packages()


def test_every_package_the_roles_and_scenarios_install_is_pre_downloaded() -> None:
    missing = (_apt_names() | _vars_packages()) - _debs()
    assert not missing, f"add to molecule/images/debs.txt: {sorted(missing)}"


def test_every_client_package_is_in_the_wheelhouse() -> None:
    pinned = {
        line.split("==")[0].lower() for line in _lines(ROOT / "roles/django_cache/files/app-requirements.txt")
    }
    clients: set[str] = set()
    for path in _playbook_files():
        clients.update(re.findall(r"cw_client_packages: \[([^\]]*)\]", path.read_text()))
    names = {name.strip().lower() for group in clients for name in group.split(",")}
    assert "pylibmc" in names and "redis" in names
    assert names <= pinned, f"not in app-requirements.txt: {sorted(names - pinned)}"


def test_every_pip_extra_of_the_inventories_is_in_the_wheelhouse() -> None:
    wheels = set(_lines(IMAGES / "wheels.txt"))
    extras: set[str] = set()
    for path in ROOT.glob("inventories/*/group_vars/**/*.yml"):
        data = yaml.safe_load(path.read_text()) or {}
        if isinstance(data, dict):
            extras.update(data.get("django_cache_pip_extra") or [])
    assert extras, "no django_cache_pip_extra found in inventories/"
    assert extras <= wheels, f"add to molecule/images/wheels.txt: {sorted(extras - wheels)}"

# SPDX-License-Identifier: Apache-2.0
"""Every module of plugins/modules documents itself (ansible-doc loads it, doc fragments
included), and documents every option its argument spec takes."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_host import service_argument_spec
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    access_argument_spec,
    local_sentinel_argument_spec,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    tls_client_argument_spec,
)

from conftest import ROOT

MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))
FQCN = "cachewright.cache."


def ansible_doc(*args: str) -> dict:
    """What `ansible-doc --json` says of the collection's plugins or roles."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    done = subprocess.run(
        ["ansible-doc", "--json", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def documented() -> dict[str, set[str]]:
    docs = ansible_doc(*(FQCN + name for name in MODULES))
    return {name: set(docs[FQCN + name]["doc"]["options"]) for name in MODULES}


def spec_keys(path: Path) -> set[str]:
    """The option names of a module's argument spec: the literal keys of its spec dicts
    (not those of an option's suboptions), plus those of the shared specs it spreads in."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    suboptions = {
        id(value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "options"
    }
    keys: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Dict)
            and id(node) not in suboptions
            and any(
                isinstance(v, ast.Dict)
                and any(isinstance(k, ast.Constant) and k.value == "type" for k in v.keys)
                for v in node.values
            )
        ):
            keys |= {k.value for k in node.keys if isinstance(k, ast.Constant)}
    if "access_argument_spec()" in source:
        keys |= set(access_argument_spec())
    if "service_argument_spec()" in source:
        keys |= set(service_argument_spec())
    if "local_sentinel_argument_spec()" in source:
        keys |= set(local_sentinel_argument_spec())
    if "tls_client_argument_spec()" in source:
        keys |= set(tls_client_argument_spec())
    return keys


def test_every_option_is_documented_and_every_documented_option_exists() -> None:
    docs = documented()
    for name in MODULES:
        assert docs[name] == spec_keys(ROOT / "plugins" / "modules" / f"{name}.py"), name


def test_the_names_of_1x_still_work_with_a_deprecation() -> None:
    """cachewright.cache.cachewright_<name> (the names that repeated the collection's) lead to
    cachewright.cache.<name> through meta/runtime.yml, with a deprecation warning."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    renamed = [name for name in MODULES if not name.endswith("_info")]
    assert len(renamed) == 8, renamed
    for name in renamed:
        done = subprocess.run(
            ["ansible-doc", "--json", f"{FQCN}cachewright_{name}"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout), name
        assert f"Use cachewright.cache.{name}." in " ".join(done.stderr.split()), done.stderr


def test_reading_is_an_info_module_and_acting_modules_take_no_info_state() -> None:
    """The read-only states are *_info modules (the convention ansible-test checks)."""
    for name in ("redis_instances", "memcached_instances", "redis_sentinel"):
        assert (ROOT / "plugins" / "modules" / f"{name}_info.py").exists(), name
        source = (ROOT / "plugins" / "modules" / f"{name}.py").read_text()
        assert '"info"' not in source and "choices: [info" not in source, name
    assert "info" not in service_argument_spec()["state"]["choices"]


def test_the_sanity_ignores_name_every_module_and_nothing_else() -> None:
    """Each module is ignored only for the GPL header check (an Apache-2.0 collection)."""
    lines = (ROOT / "tests" / "sanity" / "ignore-2.19.txt").read_text().splitlines()
    modules = [line.split()[0] for line in lines if line.startswith("plugins/modules/")]
    assert modules == [f"plugins/modules/{name}.py" for name in MODULES]
    assert all(" validate-modules:missing-gplv3-license " in line for line in lines if "plugins/" in line)
    assert [line.split()[:2] for line in lines if not line.startswith("plugins/")] == [
        ["roles/django_cache/templates/manage.py.j2", "shebang"]
    ]


def test_every_module_and_role_entry_point_says_when_it_was_added() -> None:
    """version_added, which antsibull-changelog reads to list a release's new modules and
    roles: the *_info modules are new in 1.3.0, the others date from 1.0.0 (under their
    cachewright_ names then)."""
    docs = ansible_doc(*(FQCN + name for name in MODULES))
    added = {name: docs[FQCN + name]["doc"].get("version_added") for name in MODULES}
    assert added == {name: "1.3.0" if name.endswith("_info") else "1.0.0" for name in MODULES}
    roles = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "meta").is_dir())
    docs = ansible_doc("-t", "role", *(FQCN + name for name in roles))
    for name in roles:
        entry_points = docs[FQCN + name]["entry_points"]
        assert all(spec.get("version_added") for spec in entry_points.values()), name

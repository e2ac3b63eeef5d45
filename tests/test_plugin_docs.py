# SPDX-License-Identifier: Apache-2.0
"""ansible-doc renders the documentation of every filter, module and role of the collection.

Each filter a FilterModule of plugins/filter/*.py maps is documented by the sidecar
plugins/filter/<filter>.yml (several filters share a Python file), which documents the
function's arguments; every such file documents a filter. The modules' documentation is
checked against their argument specs by tests/test_module_docs.py: here, that ansible-doc
lists each of them with a short description. The roles' documentation is their
meta/argument_specs.yml. The ansible-doc calls run at once, one per kind of listing or
rendering (ansible-doc takes several plugin names in one call)."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

FQCN = "cachewright.cache."
FILTER_DIR = ROOT / "plugins" / "filter"
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if path.is_dir())


def collection_filters() -> dict[str, Callable[..., Any]]:
    """Every filter of the collection, by name, with the function it runs."""
    found: dict[str, Callable[..., Any]] = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        plugin = importlib.import_module(f"ansible_collections.cachewright.cache.plugins.filter.{path.stem}")
        for name, function in plugin.FilterModule().filters().items():
            assert name not in found, f"{name}: mapped twice ({path.name})"
            found[name] = function
    return found


FILTERS = collection_filters()


def ansible_doc(*args: str) -> Any:
    """ansible-doc's JSON answer, run with the repository's ansible.cfg (its collections path holds
    the link to this collection); it must not warn."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    done = subprocess.run(
        ["ansible-doc", "--json", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    calls = {
        "filters": ["-t", "filter", *(FQCN + name for name in sorted(FILTERS))],
        "filter_list": ["-t", "filter", "-l", "cachewright.cache"],
        "module_list": ["-t", "module", "-l", "cachewright.cache"],
        "roles": ["-t", "role", *(FQCN + name for name in ROLES)],
    }
    with ThreadPoolExecutor(len(calls)) as pool:
        running = {key: pool.submit(ansible_doc, *args) for key, args in calls.items()}
        return {key: future.result() for key, future in running.items()}


def test_every_filter_is_documented_by_its_own_file(docs: dict[str, Any]) -> None:
    assert len(FILTERS) >= 26
    assert sorted(docs["filters"]) == sorted(FQCN + name for name in FILTERS)
    for name in FILTERS:
        rendered = docs["filters"][FQCN + name]
        doc = rendered["doc"]
        assert Path(doc["filename"]).resolve() == FILTER_DIR / f"{name}.yml", name
        assert doc["name"] == name
        assert doc["short_description"].strip(), name
        assert doc["version_added"], name
        assert doc["description"], name
        assert rendered["examples"].strip(), name
        assert rendered["return"]["_value"]["type"], name
        assert rendered["return"]["_value"]["description"], name


def test_every_filter_doc_describes_the_arguments_its_function_takes(docs: dict[str, Any]) -> None:
    """The input and each argument: positional ones in order, keyword-only ones not positional,
    required exactly when the function has no default for it."""
    for name, function in FILTERS.items():
        doc = docs["filters"][FQCN + name]["doc"]
        first, *rest = inspect.signature(function).parameters.values()
        arguments = {"_input": first, **{parameter.name: parameter for parameter in rest}}
        assert sorted(doc["options"]) == sorted(arguments), name
        positional = [
            key
            for key, parameter in arguments.items()
            if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        assert [word.strip() for word in doc["positional"].split(",")] == positional, name
        for key, parameter in arguments.items():
            option = doc["options"][key]
            assert option["type"] and option["description"], f"{name}: {key}"
            required = parameter.default is inspect.Parameter.empty
            assert bool(option.get("required")) == required, f"{name}: {key}"


def test_every_filter_doc_file_documents_a_filter() -> None:
    docs = sorted(path.name for path in FILTER_DIR.iterdir() if path.suffix in (".yml", ".yaml"))
    assert docs == sorted(f"{name}.yml" for name in FILTERS)


def test_the_filters_are_listed_with_their_short_description(docs: dict[str, Any]) -> None:
    listed = docs["filter_list"]
    assert sorted(listed) == sorted(FQCN + name for name in FILTERS)
    for name in FILTERS:
        assert listed[FQCN + name] == docs["filters"][FQCN + name]["doc"]["short_description"]


def test_every_module_is_listed_with_its_short_description(docs: dict[str, Any]) -> None:
    listed = docs["module_list"]
    assert sorted(listed) == [FQCN + name for name in MODULES]
    assert all(text.strip() and text != "UNDOCUMENTED" for text in listed.values()), listed


def test_every_role_documents_its_entry_points(docs: dict[str, Any]) -> None:
    for role in ROLES:
        assert (ROOT / "roles" / role / "meta" / "argument_specs.yml").is_file(), role
        rendered = docs["roles"][FQCN + role]
        assert Path(rendered["path"]).resolve() == ROOT, role
        entry_points = rendered["entry_points"]
        assert "main" in entry_points, role
        for name, entry_point in entry_points.items():
            assert entry_point["short_description"].strip(), f"{role}: {name}"
            assert entry_point.get("options"), f"{role}: {name}"

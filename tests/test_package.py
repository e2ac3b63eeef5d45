# SPDX-License-Identifier: Apache-2.0
"""The app-side package as a package: its wheel, the result schema its writer and reader
share, the report's figures (matplotlib, PNG and SVG) and HTML (its Jinja2 template), the
role's pins, and roles that read nothing outside their own folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml
from cachewright_django.bench import schema, suite
from cachewright_django.report import render, resultset

from conftest import ROOT, load_plugin
from test_package_installed import IMPORT_EVERY_MODULE, assert_readme_example_checks

PROJECT = ROOT / "roles" / "django_cache" / "files" / "cachewright_django"
RUN = ROOT / "tests" / "data" / "bench" / "lab" / "20250102T000000Z"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel pip builds from a copy of the project, as the role does on the controller."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(PROJECT, work / "src", ignore=shutil.ignore_patterns("*.egg-info", "build"))
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"]
    done = subprocess.run(
        [*argv, "--wheel-dir", str(work), str(work / "src")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    (built,) = work.glob("cachewright_django-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_the_package_and_the_report_template(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    sources = {
        p.relative_to(PROJECT).as_posix()
        for p in (PROJECT / "cachewright_django").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sources <= set(names)
    assert "cachewright_django/report/templates/report.html.j2" in names
    assert "cachewright_django/bench/schema.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "test" in n.split("/")[0]]
    assert {n.split("/")[0] for n in names} == {"cachewright_django", "cachewright_django-0.1.0.dist-info"}
    assert "cachewright_django/py.typed" in names  # a user's type checker reads the annotations
    assert "cachewright_django-0.1.0.dist-info/licenses/LICENSE" in names
    metadata = wheel.read("cachewright_django-0.1.0.dist-info/METADATA").decode()
    assert "Provides-Extra: report" in metadata
    assert re.search(r"Requires-Dist: matplotlib; extra == .report.", metadata)
    assert (
        "License-Expression: Apache-2.0" in metadata and "Classifier: Framework :: Django :: 5.2" in metadata
    )
    assert "Project-URL: Source, https://github.com/cachewright/cachewright" in metadata
    # django-redis 7 is the first to pass OPTIONS["USERNAME"] (an ACL user) on to redis-py.
    assert re.search(r"Requires-Dist: django-redis>=7.0; extra == .redis.", metadata)
    assert re.search(r"Requires-Dist: pymemcache>=4.0; extra == .memcached.", metadata)


def test_the_wheel_with_its_extras_imports_every_module_in_a_fresh_virtualenv(
    wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    """What a Django developer gets from pip install 'cachewright-django[redis,memcached]'."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--constraint", str(ROOT / "requirements.txt"), f"{wheel.filename}[redis,memcached]"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    done = subprocess.run([python, "-c", IMPORT_EVERY_MODULE], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert str(venv) in done.stdout  # the wheel's copy, not the source tree
    # The README's CACHES example, in a Django project of that virtualenv: every alias builds
    # its backend and the system checks pass.
    assert_readme_example_checks(python, (PROJECT / "README.md").read_text(), tmp_path)


def test_writer_and_reader_share_one_schema(tmp_path: Path) -> None:
    assert suite.schema is schema and resultset.schema is schema
    assert schema.SCHEMA == "cachewright.cachebench/2" and schema.SCHEMA in schema.READABLE
    doc = json.loads((RUN / "app1.json").read_text())
    assert doc["schema"] == "cachewright.cachebench/1"  # still read
    assert tuple(doc) == schema.KEYS
    for version, readable in (("2", True), ("3", False)):
        path = tmp_path / f"v{version}.json"
        path.write_text(json.dumps({**doc, "schema": f"cachewright.cachebench/{version}"}))
        if readable:
            assert resultset.load_document(path)["schema"] == schema.SCHEMA
        else:
            with pytest.raises(resultset.ResultError, match="not a cachebench result"):
                resultset.load_document(path)


def test_the_app_side_never_imports_the_report() -> None:
    code = (
        "import sys, cachewright_django, cachewright_django.bench.schema, cachewright_django.roundtrip; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'jinja2') "
        "or m.startswith('cachewright_django.report')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    outside = [
        p
        for p in (PROJECT / "cachewright_django").rglob("*.py")
        if "report" not in p.relative_to(PROJECT).parts
        and re.search(r"^\s*(import|from) (matplotlib|jinja2)", p.read_text(), re.M)
    ]
    assert outside == []


def test_report_figures_are_png_and_svg_files_and_the_html_its_template(tmp_path: Path) -> None:
    assert render.main([str(RUN), "--out", str(tmp_path), "--no-previous"]) == 0
    pngs, svgs = sorted(tmp_path.glob("figure-*.png")), sorted(tmp_path.glob("figure-*.svg"))
    # per host/size/dist: throughput + latency, 2 scaling per alias (2 aliases); 2 ratio figures
    assert len(pngs) == len(svgs) == 8
    assert [p.stem for p in pngs] == [s.stem for s in svgs]
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for svg in svgs:
        root = ET.parse(svg).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "Placement: client and server containers share 2 cores" in " ".join(
            " ".join(root.itertext()).split()
        )
    html = (tmp_path / "report.html").read_text()
    assert html.count("<figure>") == 8 and html.count("<svg") == 8
    assert "xlink" not in html  # every <use> of the files replaced in the page
    template = render.TEMPLATES.get_template("report.html.j2")
    # The installed package's template (an editable install or the wheel's copy alike).
    assert Path(template.filename or "").is_relative_to(Path(render.__file__).parent / "templates")
    assert '<td class="num bad">below</td>' in html  # cell classes from the template's loop
    markdown = (tmp_path / "report.md").read_text()
    assert [f"{p.name}" for p in pngs] == re.findall(r"\]\((figure-[^)]+\.png)\)", markdown)
    again = tmp_path / "again"
    assert render.main([str(RUN), "--out", str(again), "--no-previous"]) == 0
    assert [s.read_bytes() for s in svgs] == [(again / s.name).read_bytes() for s in svgs]  # reproducible


def test_the_roles_pins_are_the_kits() -> None:
    kit = {
        line.split("==")[0].lower(): line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    role = [
        line
        for line in (ROOT / "roles/django_cache/files/app-requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert [kit.get(line.split("==")[0].lower()) for line in role] == role, (
        "run scripts/app-pins.sh (make lock)"
    )
    plugin = load_plugin("plugins/plugin_utils/django_settings.py")
    base = yaml.safe_load((ROOT / "roles/django_cache/vars/main.yml").read_text())[
        "__django_cache_base_packages"
    ]
    optional = [p for _, p in [*plugin.COMPRESSORS.values(), *plugin.SERIALIZERS.values()] if p]
    # Every package the role may install has a pin there.
    assert plugin.django_cache_pins("\n".join(role), [*base, *optional, "pylibmc"])


def test_no_role_reads_outside_its_folder() -> None:
    outside = re.compile(r"(role_path|playbook_dir)\s*\}\}\s*/\.\.|\.\./\.\./")
    found = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "roles").rglob("*.yml")
        if "molecule" not in p.parts and outside.search(p.read_text())
    ]
    assert found == []

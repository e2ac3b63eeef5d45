# SPDX-License-Identifier: Apache-2.0
"""python -m cachewright_django.report: a known result JSON gives the expected Markdown tables and a
self-contained HTML page with well-formed SVG plots; previous run and exit codes."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from cachewright_django.report import render as report  # noqa: E402
from cachewright_django.report import resultset  # noqa: E402

DATA = ROOT / "tests" / "data" / "bench"
RUNS = DATA / "lab"
CURRENT, PREVIOUS = RUNS / "20250102T000000Z", RUNS / "20250101T000000Z"

# The Django-layer table of report.md for the fixture run (checked by hand against its JSON).
EXPECTED_DJANGO_TABLE = (DATA / "expected_django_table.md").read_text().rstrip("\n")


def section(markdown: str, title: str) -> str:
    """The table of one ``## title`` section."""
    part = markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in part.splitlines() if line.startswith("|"))


@pytest.fixture
def built(tmp_path):
    out = tmp_path / "out"
    code = report.main([str(CURRENT), "--out", str(out)])
    assert code == 0
    return out


def test_markdown_table_of_the_django_layer(built):
    markdown = (built / "report.md").read_text()
    assert section(markdown, "Django layer: throughput and latency") == EXPECTED_DJANGO_TABLE


def test_markdown_targets_ceilings_environment(built):
    markdown = (built / "report.md").read_text()
    targets = section(markdown, "Targets (GET)")
    assert "| app1 | default | django/raw | 100 | uniform | 1x1 | 0.91 | >= 0.85 | meets |" in targets
    assert "| app1 | default | ours/builtin | 100 | uniform | 2x1 | 1.50 | >= 1.5 | meets |" in targets
    assert "| app1 | sessions | django/raw | 100 | uniform | 2x1 | 0.75 | >= 0.85 | below |" in targets
    ceilings = section(markdown, "Ceilings: raw clients, built-in RedisCache, redis-benchmark")
    assert (
        "| app1 | default | redis-benchmark | get | 100 | uniform | c50 | 60,000 | 0.600 | 2.500 | 0 | - |"
        in ceilings
    )
    change = section(markdown, "Change against the previous run")
    row = (
        "| app1 | default | django | get | 100 | uniform | 2x1 | 20,000 | 18,000 | -10.0 % | 0.400 | 0.450 |"
    )
    assert row + " +12.5 % |" in change
    env = section(markdown, "Environment")
    assert "| app1 | 2 (2 usable) | 0.5 0.4 0.3 -> 1.6 0.8 0.4 |" in env and "3.5.0 (used)" in env
    assert "Placement: client and server containers share 2 cores." in markdown
    assert "ConnectionError('boom')" in section(markdown, "Skipped, notes and errors")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def test_html_is_self_contained_with_svg_plots(built):
    html = (built / "report.html").read_text()
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    # per host/size/dist: throughput + latency, 2 scaling per alias (2 aliases); then 2 ratio figures
    assert len(svgs) == 2 + 2 * 2 + 2
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.findall(".//{http://www.w3.org/2000/svg}rect") or root.findall(
            ".//{http://www.w3.org/2000/svg}polyline"
        )
        text = " ".join(" ".join(root.itertext()).split())  # the subtitle may wrap over lines
        assert "Placement: client and server containers share 2 cores" in text
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert len(captions) == len(svgs)
    assert all("Placement: client and server containers share 2 cores" in c for c in captions)
    parser = _Collector()
    parser.feed(html)
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    assert "src" not in parser.attrs and "href" not in parser.attrs
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"] * len(
        svgs
    )  # namespace only
    assert "redis-benchmark GET -c 50" in html  # the ceiling beside the scaling plot


def test_previous_run_is_the_latest_older_sibling(tmp_path):
    assert resultset.find_previous(CURRENT) == PREVIOUS.resolve()
    assert resultset.find_previous(PREVIOUS) is None
    runs = tmp_path / "lab"
    for name in ("20250101T000000Z", "20250103T000000Z", "20250104T000000Z"):
        shutil.copytree(CURRENT, runs / name)
    (runs / "20250102T000000Z").mkdir()  # empty: an interrupted run is skipped
    (runs / "20250105T000000Z").mkdir()
    assert resultset.find_previous(runs / "20250104T000000Z") == (runs / "20250103T000000Z").resolve()
    assert resultset.find_previous(runs / "20250103T000000Z") == (runs / "20250101T000000Z").resolve()


def test_no_previous_and_explicit_previous(tmp_path):
    assert report.main([str(CURRENT), "--out", str(tmp_path / "a"), "--no-previous"]) == 0
    assert "No previous run" in (tmp_path / "a" / "report.md").read_text()
    assert report.main([str(PREVIOUS), "--out", str(tmp_path / "b"), "--previous", str(CURRENT)]) == 0
    assert "-20.0 %" in (tmp_path / "b" / "report.md").read_text()  # 10,000 -> 8,000


def test_gate_misses_exit_1_with_a_table(tmp_path, capsys):
    code = report.main([str(CURRENT), "--out", str(tmp_path), "--gates", str(DATA / "gates.yml")])
    assert code == 1
    out = capsys.readouterr().out
    assert "gates: 10 checks, 3 missed" in out
    assert re.search(r"app1\s+default\s+get\s+100B uniform 2x1\s+p99 ms\s+0.4\s+0.45\s+MISSED", out)
    gates_md = section((tmp_path / "report.md").read_text(), "Gates")
    assert gates_md.count("MISSED") == 3 and gates_md.count("| ok |") == 7
    assert report.main([str(CURRENT), "--out", str(tmp_path), "--gates", str(DATA / "gates_pass.yml")]) == 0


def test_unusable_input_exits_2(tmp_path, capsys):
    assert report.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert report.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "bad.json").write_text(json.dumps({"schema": "something else"}))
    assert report.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    bad_gates = tmp_path / "gates.yml"
    bad_gates.write_text("gates:\n  - alias: default\n    op: get\n    min_opss: 5\n")
    assert report.main([str(CURRENT), "--out", str(tmp_path / "o"), "--gates", str(bad_gates)]) == 2
    assert "unknown key(s) ['min_opss']" in capsys.readouterr().err


def test_several_hosts_in_one_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    doc = json.loads((CURRENT / "app1.json").read_text())
    (run / "app1.json").write_text(json.dumps(doc))
    doc["environment"]["hostname"] = "app2"
    doc["placement"] = doc["environment"]["placement"] = "app2 alone on 4 cores"
    (run / "app2.json").write_text(json.dumps(doc))
    assert report.main([str(run), "--no-previous"]) == 0
    markdown = (run / "report.md").read_text()
    assert (
        "Placement: app1: client and server containers share 2 cores; app2: app2 alone on 4 cores" in markdown
    )
    assert "| app2 | default | get | 100 | uniform | 1x1 | 10,000 |" in markdown
    html = (run / "report.html").read_text()
    assert html.count("<svg") == 16

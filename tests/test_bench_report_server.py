# SPDX-License-Identifier: Apache-2.0
"""The report names the server behind each alias (the Aliases table, the summary) and says
when an alias's server changed since the previous run, in report.md and report.html; runs
written before the label was recorded still render, without a change line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from cachewright_django.bench import schema  # noqa: E402
from cachewright_django.report import render as report  # noqa: E402
from cachewright_django.report import resultset  # noqa: E402

RUNS = ROOT / "tests" / "data" / "bench" / "lab"
CURRENT, PREVIOUS = RUNS / "20250102T000000Z", RUNS / "20250101T000000Z"
CHANGE_LINE = "app1 default server: Redis 7.0.15 \u2192 Valkey 8.0.1"


def section(markdown: str, title: str) -> str:
    """The text of one ``## title`` section."""
    return markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def copy_run(source: Path, target: Path, servers: dict[str, str | None] | None) -> Path:
    """The fixture run in ``target``, each alias given its server label (none: left as written)."""
    target.mkdir(parents=True)
    doc = json.loads((source / "app1.json").read_text())
    for alias, label in (servers or {}).items():
        doc["aliases"][alias][schema.ALIAS_SERVER] = label
    (target / "app1.json").write_text(json.dumps(doc))
    return target


def render(tmp_path: Path, now: dict | None, before: dict | None) -> tuple[str, str]:
    """report.md and report.html of the current fixture run against the previous one."""
    current = copy_run(CURRENT, tmp_path / "lab" / "2", now)
    previous = copy_run(PREVIOUS, tmp_path / "lab" / "1", before)
    out = tmp_path / "out"
    assert report.main([str(current), "--previous", str(previous), "--out", str(out)]) == 0
    return (out / "report.md").read_text(encoding="utf-8"), (out / "report.html").read_text(encoding="utf-8")


def test_the_aliases_table_and_the_summary_name_each_server(tmp_path):
    servers = {"default": "Valkey 8.0.1", "sessions": "memcached 1.6.18"}
    markdown, html = render(tmp_path, servers, servers)
    aliases = section(markdown, "Aliases")
    assert "| host | alias | backend | client class | kind | server | TLS |" in aliases
    assert (
        "| app1 | default | django_redis.cache.RedisCache | django_redis.client.default.DefaultClient "
        "| redis | Valkey 8.0.1 | on |"
    ) in aliases
    assert "| memcached | memcached 1.6.18 | off |" in aliases
    assert "- Servers measured from app1: default = Valkey 8.0.1, sessions = memcached 1.6.18." in markdown
    assert "<th>server</th>" in html and "<td>Valkey 8.0.1</td>" in html
    assert "<li>Servers measured from app1: default = Valkey 8.0.1, sessions = memcached 1.6.18.</li>" in html
    assert "\u2192" not in markdown and "changed since" not in markdown  # the same servers as before


def test_a_changed_server_is_stated_in_the_summary_and_the_change_section(tmp_path):
    markdown, html = render(
        tmp_path,
        {"default": "Valkey 8.0.1", "sessions": "memcached 1.6.18"},
        {"default": "Redis 7.0.15", "sessions": "memcached 1.6.18"},
    )
    assert f"- {CHANGE_LINE} (changed since the previous run)." in markdown
    change = section(markdown, "Change against the previous run")
    assert f"Measured on another server than before: {CHANGE_LINE}." in change
    assert "sessions server" not in markdown  # its server stayed
    assert f"<li>{CHANGE_LINE} (changed since the previous run).</li>" in html
    assert re.search(rf"<p>Previous run: .*Measured on another server than before: {CHANGE_LINE}\.</p>", html)


@pytest.mark.parametrize(
    ("now", "before"),
    [
        ({"default": "Valkey 8.0.1"}, None),  # the previous run was written before the label
        ({"default": "Valkey 8.0.1"}, {"default": None}),  # its server could not be read then
        ({"default": None}, {"default": "Redis 7.0.15"}),  # nor now
    ],
)
def test_an_unknown_server_is_not_a_change(tmp_path, now, before):
    markdown, _ = render(tmp_path, now, before)
    assert "changed since the previous run" not in markdown
    assert "Measured on another server" not in markdown


def test_runs_without_labels_render_as_before(tmp_path):
    markdown, _ = render(tmp_path, None, None)
    rows = [line for line in section(markdown, "Aliases").splitlines() if line.startswith("| app1 ")]
    assert len(rows) == 2 and all("| redis | - |" in r or "| memcached | - |" in r for r in rows)
    assert "Servers measured from" not in markdown
    unread, _ = render(tmp_path / "unread", {"default": None, "sessions": "memcached 1.6.18"}, None)
    assert "| redis | unknown | on |" in section(unread, "Aliases")
    assert "Servers measured from app1: default = unknown, sessions = memcached 1.6.18." in unread


def test_server_changes_of_the_report_model(tmp_path):
    current = resultset.load_run(
        copy_run(CURRENT, tmp_path / "2", {"default": "Valkey 8.1.1 + Redis 7.0.15"})
    )
    previous = resultset.load_run(copy_run(PREVIOUS, tmp_path / "1", {"default": "Redis 7.0.15"}))
    assert report.Report(current, previous).server_changes() == [
        "app1 default server: Redis 7.0.15 \u2192 Valkey 8.1.1 + Redis 7.0.15"
    ]
    assert report.Report(current).server_changes() == []

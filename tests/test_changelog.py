# SPDX-License-Identifier: Apache-2.0
"""The changelog is antsibull-changelog's: its fragments and changelogs/changelog.yaml pass
`antsibull-changelog lint`, and CHANGELOG.md is what `antsibull-changelog generate` writes
from them, so a hand edit of CHANGELOG.md or a changelog.yaml without its regenerated
CHANGELOG.md fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

# The antsibull-changelog of the Python running the tests (the kit's virtualenv).
ANTSIBULL_CHANGELOG = str(Path(sys.executable).parent / "antsibull-changelog")


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ANTSIBULL_CHANGELOG, *argv], cwd=cwd, capture_output=True, text=True, check=False)


def test_fragments_and_changelog_yaml_pass_the_linter() -> None:
    done = run(["lint"], ROOT)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    done = run(["lint-changelog-yaml", "--strict", "changelogs/changelog.yaml"], ROOT)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_changelog_md_is_what_generate_writes(tmp_path: Path) -> None:
    """Generated again in a copy of what it is made from (galaxy.yml says it is a
    collection), the file is the one in the repository."""
    shutil.copy2(ROOT / "galaxy.yml", tmp_path / "galaxy.yml")
    shutil.copytree(ROOT / "changelogs", tmp_path / "changelogs")
    shutil.copy2(ROOT / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    done = run(["generate"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    generated = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert generated == (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), (
        "CHANGELOG.md is stale: run `antsibull-changelog generate` and keep its result"
    )


def test_every_fragment_is_yaml_with_a_yml_suffix() -> None:
    """Only .yml/.yaml files count as fragments (ignore_other_fragment_extensions): a
    fragment named otherwise would be left out of the release without a word."""
    names = [path.name for path in (ROOT / "changelogs" / "fragments").iterdir()]
    assert all(name.endswith((".yml", ".yaml")) or name == ".keep" for name in names), names

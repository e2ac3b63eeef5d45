# SPDX-License-Identifier: Apache-2.0
"""What runs on the hosts (plugins/modules, plugins/module_utils) runs on every Python that
ansible-core 2.19 supports on targets: 3.8 and later. vermin reads each file and names what
needs a newer Python (zip(strict=), match, the walrus in 3.8's own places, str.removeprefix,
...). Annotations are not evaluated at import in these files (each starts with
``from __future__ import annotations``), so `list[str]` in a signature costs nothing on 3.8;
an annotation evaluated at run time (a type alias, isinstance against `A | B`) is code, and
vermin checks it as code. The controller-only code (plugins/plugin_utils, filters) runs on the
controller's Python, which ansible-core 2.19 wants at 3.11 or later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

TARGET = "3.8"
HOST_CODE = [ROOT / "plugins" / "modules", ROOT / "plugins" / "module_utils"]
VERMIN = str(Path(sys.executable).parent / "vermin")


def vermin(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VERMIN, f"-t={TARGET}-", "--no-tips", "--violations", "--no-parse-comments", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_host_code_needs_nothing_newer_than_python_3_8() -> None:
    done = vermin(*HOST_CODE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_host_code_does_not_evaluate_its_annotations() -> None:
    files = sorted(path for folder in HOST_CODE for path in folder.glob("*.py"))
    assert len(files) > 15
    missing = [p.name for p in files if "from __future__ import annotations" not in p.read_text()]
    assert not missing


def test_the_check_names_what_a_newer_python_needs(tmp_path: Path) -> None:
    """The check fails on code that needs Python 3.10, naming it."""
    sample = tmp_path / "pairs.py"
    sample.write_text("def pairs(row):\n    return dict(zip(row[0::2], row[1::2], strict=True))\n")
    done = vermin(sample)
    assert done.returncode != 0 and "zip(strict)" in done.stdout, done.stdout

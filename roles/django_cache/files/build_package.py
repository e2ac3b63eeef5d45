"""Build the app-side package (cachewright_django) as a reproducible zip on the controller.

Same sources, same bytes: entries sorted, fixed timestamps, no __pycache__. The role copies
the zip to the app host in one task and puts it on the virtualenv's path (zipimport), so a
rerun with unchanged sources changes nothing.

    python build_package.py SOURCE_DIR OUT_DIR   -> prints the zip's path
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

EPOCH = (1980, 1, 1, 0, 0, 0)


def build(source: Path, out_dir: Path) -> Path:
    """Write <out_dir>/cachewright_django-<sha>.zip (if missing) and return its path."""
    files = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(source.parent)).encode() + b"\0" + path.read_bytes())
    target = out_dir / f"cachewright_django-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                info = zipfile.ZipInfo(str(path.relative_to(source.parent)), EPOCH)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        partial.replace(target)
    return target


if __name__ == "__main__":
    print(build(Path(sys.argv[1]).resolve(), Path(sys.argv[2])))

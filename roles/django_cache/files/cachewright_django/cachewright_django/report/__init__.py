"""The controller's side of cachebench: the report of a run, its gates, the backend selector.

    python -m cachewright_django.report RESULT_DIR [--gates gates.yml] [--out DIR]

Needs the ``report`` extra (matplotlib for the figures, Jinja2 for the HTML page, PyYAML
for the gates): ``pip install 'cachewright-django[report]'``. App hosts never import it.
"""

from cachewright_django.report.render import Report, main

__all__ = ["Report", "main"]

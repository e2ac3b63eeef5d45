"""``python -m cachewright_django.report RESULT_DIR``: write the report, exit 0, 1 or 2."""

import sys

from cachewright_django.report.render import main

sys.exit(main())

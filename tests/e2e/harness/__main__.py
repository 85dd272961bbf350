"""python3 -m harness (with tests/e2e on the path): what tests/e2e/run runs."""

import sys

from .main import main

sys.exit(main())

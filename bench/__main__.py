"""``python -m bench``: run the benchmark (``--help`` for the options)."""

import sys

from bench.cli import main

sys.exit(main())

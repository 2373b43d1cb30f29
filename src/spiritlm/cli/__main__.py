"""`python -m spiritlm.cli ...` (what the recipe runs for each stage)."""

import sys

from . import main

sys.exit(main())

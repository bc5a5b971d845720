"""`python -m hypernas`: the command line."""

import sys

from hypernas.cli import main

sys.exit(main())

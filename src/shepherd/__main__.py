"""`python -m shepherd` is the `shepherd` command."""

import sys

from shepherd.cli import main

sys.exit(main())

"""``python -m evalgate`` is the ``evalgate`` command."""

import sys

from .cli import main

sys.exit(main())

"""``python -m evalgate.cli`` is the ``evalgate`` command."""

import sys

from . import main

sys.exit(main())

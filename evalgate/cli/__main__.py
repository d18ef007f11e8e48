"""``python -m evalgate.cli`` is the ``evalgate`` command."""

from . import entry

entry()

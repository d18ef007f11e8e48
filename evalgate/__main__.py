"""``python -m evalgate`` is the ``evalgate`` command."""

from .cli import entry

entry()

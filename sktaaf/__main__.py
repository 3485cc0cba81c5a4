"""``python -m sktaaf``: the ``sktaaf`` command."""

from ._cli import main

raise SystemExit(main())

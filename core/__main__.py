"""Entry point: ``python -m core <command>``."""

from core.cli import main

raise SystemExit(main())

"""Entry point: ``python -m core <command>``."""
from .cli import main

raise SystemExit(main())

"""``python -m app.scenarios``: see :func:`app.scenarios.cli.main`."""

import sys

from app.scenarios.cli import main

if __name__ == "__main__":
    sys.exit(main())

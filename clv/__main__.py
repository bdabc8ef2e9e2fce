"""``python -m clv``: the ``clv`` command line."""

import sys

from clv.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

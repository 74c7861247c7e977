"""Run the command line as ``python -m spotlight``."""

import sys

from spotlight.cli import main

if __name__ == "__main__":
    sys.exit(main())

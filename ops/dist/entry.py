"""The single-file build's entry point: the same ``engine`` command as the pip package."""

import multiprocessing
import sys

from ops.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())

"""``python -m symlip`` is the ``symlip`` command."""
import sys

from symlip.cli import main

if __name__ == "__main__":  # worker processes (symlip check --jobs) import this module without running it
    sys.exit(main())

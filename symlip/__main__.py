"""``python -m symlip`` is the ``symlip`` command."""
import sys

from symlip.cli import main

sys.exit(main())

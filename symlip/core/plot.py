"""Optional plotting (the ``plot`` extra): matplotlib with a headless backend (private).

Every report that draws a PNG also writes its numbers as Markdown/JSON, so a
missing matplotlib costs the picture, never the figures.
"""
from __future__ import annotations

from typing import Any

#: What to tell a user whose environment lacks matplotlib.
INSTALL_HINT = 'PNG plots need matplotlib: pip install "symlip[plot]"'


def pyplot() -> Any | None:
    """``matplotlib.pyplot`` with the non-interactive Agg backend, or None when
    matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt

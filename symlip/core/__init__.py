"""Foundations every layer uses: working precision and the safe expression reader (docs/theory.md §1)."""

"""Activations and their constants: exact, certified (arb) or numeric (docs/theory.md §2)."""

"""Symbolic bounds U1-U4 and their kernels, the CDNN Grönwall bounds, the §4 lower constructions."""

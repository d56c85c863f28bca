"""Step sizes, the spectral calculus, SGD moments and trajectories, statistical claims."""

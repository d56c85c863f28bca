"""The models whose parameters are bounded: MLPs, continuous-depth networks, regions, torch I/O."""

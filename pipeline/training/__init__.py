"""Training runs: the fit loop and the run directory it writes."""

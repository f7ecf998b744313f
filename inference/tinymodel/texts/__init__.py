"""Original training text for the tiny model (a package so wheels ship its *.txt files)."""

"""How configurations are chosen and dropped: search spaces (grid, random, auto), TPE, racing across windows, early stopping, a recurring sweep's warm start."""

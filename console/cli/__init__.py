"""edgectl: the headless command line over the same core as the GUI."""

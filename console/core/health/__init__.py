"""Device health on the console, without Qt."""

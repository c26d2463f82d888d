"""Device health: checks as data (name, severity, how to fix), run periodically and on demand."""

"""The Optimize page (its wizard, form and inputs), its deploy step, and the Benchmarks page."""

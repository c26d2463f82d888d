"""The Optimize pipeline's plan, its summary and its result's way to a deploy; kept benchmarks."""

"""Many devices at once, from this laptop and without a server: status, staged rollouts, rollbacks.

Each fleet action runs one device's action per device, in parallel with a bound, and keeps every
device's outcome (ok, failed and why, unreachable and why) with its timing. Each device's own store
still guarantees that nothing is half-deployed; the fleet only decides who goes when.
"""

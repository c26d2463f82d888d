"""Inference latency on the device: aggregation of reported timings and the daemon service."""

"""What the Dashboard shows, without Qt: metric buffers, peaks, latency, alerts, thresholds, marks."""

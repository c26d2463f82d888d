"""Jobs on a device: tracking, specs from what a person types, reports."""

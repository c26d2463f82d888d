"""Guided commissioning of one robot: the checklist, its steps, golden cases and the report."""

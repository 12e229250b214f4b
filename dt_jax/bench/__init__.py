"""The step-count benchmark: quality, speed and size of the teacher, its students and ablations, and the report.

rows.py says what is measured (one Row per model), measure.py measures one row (quality over seeds, speed, size),
report.py writes results.json, table.md and report.md, plots.py the figures.
"""

"""Benchmarks for the targets in DESIGN.md ("Targets"); run from the repository root.

They measure, they never assert: each prints its figures and writes a JSON result under
``bench/results/`` (not tracked); ``bench/README.md`` records the figures and how they were got.
"""

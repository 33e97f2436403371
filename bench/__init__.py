"""Benchmarks: `python -m bench.NAME` from the repository root; results in BENCHMARKS.md."""

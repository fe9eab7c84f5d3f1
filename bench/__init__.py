"""Benchmarks (run as scripts: ``python bench/bench_core.py``)."""

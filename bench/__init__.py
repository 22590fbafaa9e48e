"""Benchmarks: figures to measure and report, not tests (`python -m bench.<name>`)."""

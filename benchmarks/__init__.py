"""Benchmarks of psp: `python -m benchmarks --help`."""

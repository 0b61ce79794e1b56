"""Benchmarks (not part of the test suite); each module runs with `python -m bench.<name>`."""

"""Benchmarks: each prints ratios against a raw floor measured in the same run (never absolute goals)."""

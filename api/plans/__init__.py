"""Compiled read plans (api/plans/runner.py), the field declarations they share with the
Strawberry types (api/plans/fields.py) and the compiler (api/plans/compiler.py)."""

"""Compiled read plans (api/plans/runner.py), the field declarations they share with the
Strawberry types (api/plans/fields.py), the compiler (api/plans/compiler.py), an idea's lists
(api/plans/threads.py) and their building blocks (api/plans/shapes.py)."""

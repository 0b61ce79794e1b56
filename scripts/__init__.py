"""Developer scripts (run them as files: `python scripts/import_graph.py`)."""

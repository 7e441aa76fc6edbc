"""Release coordination latency benchmark: `python -m bench.releases` (see __main__.py)."""

"""Benchmarks: the pipeline's own cost, side by side with established Postgres queues.

`python -m bench` (or `./run bench`) runs them all on a throw-away embedded PostgreSQL
and prints one table of ratios; `python -m bench NAME` runs one. See bench/README.md.
"""

"""Benchmarks, run as `omnitrack bench NAME [--json]`; results go to docs/BENCHMARKS.md."""

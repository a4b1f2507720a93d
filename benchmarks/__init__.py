"""Benchmarks: scripts that print figures (not timed tests). Results go to BENCHMARKS.md."""

"""Benchmarks for the post-renderer (`python -m bench`): figures printed, nothing asserted."""

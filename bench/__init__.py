"""Benchmarks and long runs; each prints one JSON document."""

"""Executors turn placements into running work (local processes, Ray placement groups)."""

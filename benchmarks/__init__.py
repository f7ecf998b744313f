"""STIC benchmarks package."""

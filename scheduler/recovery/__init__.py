"""Fault tolerance: pure failure detectors and recovery policies (no I/O)."""

"""Scheduler plugins; each registers callbacks on a session (see :mod:`scheduler.registry`)."""

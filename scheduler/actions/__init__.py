"""Scheduler actions, run in the order the config gives (see :mod:`scheduler.registry`)."""

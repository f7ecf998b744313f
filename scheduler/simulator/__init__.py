"""Discrete-event simulator and trace replay driving the same :class:`~scheduler.Scheduler`."""

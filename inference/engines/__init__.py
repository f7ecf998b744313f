"""Inference engines: how replicas of a model start, stop, and are called (see ``base.py``)."""

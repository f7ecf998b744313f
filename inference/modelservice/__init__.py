"""Model services: deployments of a model on an engine, replicas as scheduler jobs, the gateway directory.

The gateway reads :func:`inference.modelservice.directory.load_directory`; the API lives in
:mod:`inference.modelservice.router`, the reconcile loop in :mod:`inference.modelservice.controller`.
"""

"""Probes: checks of single clauses against a running deployment through its public HTTP API."""

from services.assessment.probes.base import Probe, ProbeContext, ProbeFailure, ProbeResult

__all__ = ["Probe", "ProbeContext", "ProbeFailure", "ProbeResult"]

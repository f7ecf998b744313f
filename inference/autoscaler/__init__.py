"""Autoscaling of model services: policies, a pure decision function, metric collection and the loop."""

"""STIC security package."""

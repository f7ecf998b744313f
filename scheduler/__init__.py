"""STIC scheduler package."""

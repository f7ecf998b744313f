"""STIC services.cli package."""

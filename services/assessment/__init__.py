"""STIC services.assessment package."""

"""STIC services.kernel package."""

"""STIC services.quotas package."""

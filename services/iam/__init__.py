"""STIC services.iam package."""

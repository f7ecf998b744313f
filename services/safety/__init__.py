"""STIC services.safety package: the content-safety service."""

"""STIC services package."""

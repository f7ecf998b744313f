"""STIC mlops package."""

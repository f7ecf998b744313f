"""STIC inference package."""

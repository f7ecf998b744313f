"""The ``stic`` command line."""

"""The installed STIC version."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("stic")
except PackageNotFoundError:  # running from a source tree without installation
    VERSION = "0.0.0+source"

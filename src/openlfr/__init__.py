"""openlfr: open-source live facial recognition with the safeguards built in."""

__version__ = "0.1.0"

"""One-click "Buy now" for Django shops."""

__version__ = "0.1.0"

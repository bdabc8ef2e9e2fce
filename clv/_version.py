"""Version of the clv package."""

__version__ = "0.1.0"

"""psp: a payment service provider core."""

__version__ = "0.1.0"

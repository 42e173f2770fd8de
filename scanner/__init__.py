"""Bolwerk: security posture scanner for government services."""

__version__ = "0.1.0"

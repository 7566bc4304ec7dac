"""Connectors: sources (SIS) mapped into canonical records."""

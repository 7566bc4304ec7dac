"""Simulators of real sources, fed by one deterministic synthetic district (never imported by the product's serving paths)."""

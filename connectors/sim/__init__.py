"""Simulators of real sources, fed by one deterministic synthetic district."""

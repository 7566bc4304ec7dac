"""Portico configuration: the YAML schema, its loader, secrets and the error tree."""

"""Envelope encryption: key-encryption keys, per-person data keys, blind indexes, rotation."""

"""The read-only parent and student HTTP API, and the operator CLI."""

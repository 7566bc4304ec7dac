"""The read-only HTTP API: the app, routing, parameters, problems, the envelope and the routes."""

"""Alerts and digests to families: preferences, detection after each publish, the outbox
and its sender (docs/alerts.md)."""

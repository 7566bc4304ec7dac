"""Every table of the cache: versioned encrypted records, runs, accounts, alerts, privacy and the audit chain.

Importing this package registers every table on ``SQLModel.metadata``.
"""

from cache.tables import accounts, alerts, audit, privacy, records

__all__ = ["accounts", "alerts", "audit", "privacy", "records"]

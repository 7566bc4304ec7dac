"""Every table of the cache: versioned encrypted records, runs, accounts, alerts, calendar feeds
and family tokens, privacy and the audit chain.

Importing this package registers every table on ``SQLModel.metadata``.
"""

from cache.tables import accounts, alerts, audit, family, privacy, records

__all__ = ["accounts", "alerts", "audit", "family", "privacy", "records"]

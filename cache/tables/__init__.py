"""Every table of the cache: versioned encrypted records, runs, accounts, privacy and the audit chain.

Importing this package registers every table on ``SQLModel.metadata``.
"""

from cache.tables import accounts, audit, privacy, records

__all__ = ["accounts", "audit", "privacy", "records"]

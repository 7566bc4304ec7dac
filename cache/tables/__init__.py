"""Every table of the cache: versioned encrypted records, runs, accounts, calendar feeds and family
tokens, privacy and the audit chain.

Importing this package registers every table on ``SQLModel.metadata``.
"""

from cache.tables import accounts, audit, family, privacy, records

__all__ = ["accounts", "audit", "family", "privacy", "records"]

"""Authorised reads of the published snapshot: predicates, the reader, and record queries."""

"""A family's and the district's privacy duties: audit chain, access log, export, corrections, purge, breach."""

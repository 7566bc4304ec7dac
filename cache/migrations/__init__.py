"""Versioned schema migrations (Alembic), shipped inside the package so a wheel can upgrade itself.

Two lines of revisions, because the keystore may live in a database of its own:

    line       scripts       version table               database
    cache      versions/     alembic_version             the cache's (``cache.url``)
    keystore   keystore/     alembic_version_keystore    the keystore's (``cache.keystore_url``;
                                                         the cache's own on PostgreSQL by default)

``portico db upgrade`` runs both under one lock (:mod:`cache.migrations.runner`); every
process checks both revisions when it opens the cache and refuses to run on any other.
Migration scripts describe the schema themselves and import no table definitions, so a
script means the same thing after the models have moved on (an import contract keeps it so).
"""

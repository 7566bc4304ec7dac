"""A SQLModel table class as the SQLAlchemy Core ``Table`` the bulk and hot paths use."""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel


def core_table(model: type[SQLModel]) -> Table:
    """The Core table behind ``model`` (``model.__table__``, typed as what it is)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]

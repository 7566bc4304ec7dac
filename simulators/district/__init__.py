"""The synthetic district: deterministic schools, families, classes and records of every kind."""

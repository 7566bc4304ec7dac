"""The OneRoster 1.1/1.2 CSV connector (type: oneroster)."""

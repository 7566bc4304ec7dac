"""Cloud-School-like CSV export connector (one school's export folder)."""

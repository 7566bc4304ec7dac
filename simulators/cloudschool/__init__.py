"""Cloud-School-like CSV exports of the synthetic district, with real-file defects on demand."""

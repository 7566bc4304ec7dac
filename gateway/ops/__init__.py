"""What operators run on: structured, redacted logs; Prometheus metrics; outgoing mail."""

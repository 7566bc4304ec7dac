"""A PowerSchool-like SIS over HTTP, fed by the synthetic district."""

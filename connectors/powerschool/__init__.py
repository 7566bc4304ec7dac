"""PowerSchool-like REST connector."""

"""Public records: court judgments, enforcement lists, tax arrears, administrative penalties."""

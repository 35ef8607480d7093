"""Pure functions on plain data: checksums, normalisation, masking, hashing. No IO."""

"""Point-in-time bureau features and training samples."""

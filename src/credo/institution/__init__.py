"""Member institutions: furnishers and queriers."""

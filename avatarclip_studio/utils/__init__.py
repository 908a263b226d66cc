"""Small shared helpers with no knowledge of the method."""

"""neus."""

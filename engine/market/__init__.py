"""Market data: the seeded simulator and bars built from quotes."""

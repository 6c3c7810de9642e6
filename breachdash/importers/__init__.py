"""File importers: streaming, atomic (validate everything, then write once), idempotent."""

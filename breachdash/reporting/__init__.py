"""Read models shaped for display: pure functions from service reads to the tables and texts the
pages show (so pages only read, render and call)."""

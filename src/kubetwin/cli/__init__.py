"""``kubetwin`` command line: argument parsing and output only (DESIGN.md: thin edges)."""

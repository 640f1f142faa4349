"""Stage 3: one renderer per output kind, each a pure function from IR to Python text."""

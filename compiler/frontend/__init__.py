"""Stage 1, the front end: find the project's modules and parse each one with libcst into
facts (frontend/facts.py): what it imports, its classes, its decorated functions. No module
of the project is imported or run."""

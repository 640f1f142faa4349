"""Stage 4, the driver: runs the stages over a project (compile.py), caches their results by
content hash (cache.py), and compares with or writes the generated files (previous.py,
write.py)."""

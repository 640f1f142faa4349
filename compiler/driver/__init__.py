"""Stage 4, the driver: runs the stages over a project. compile.py is the entry point: the last
whole result from the cache (cache.py) when nothing it read changed, else build.py, which
reuses each source module's cached part while what it depended on is unchanged
(incremental.py; codec.py stores the parts) and resolves and renders the rest. files.py reads
sources, previous.py and contract_reader.py read the previous output (the field-id lock), and
write.py compares with or writes the generated files."""

"""Stage 5, review: what a generation means for people reviewing it: `cascade diff`
(diff.py, over table contracts read back by contract_reader.py) and the schema snapshots of
the pytest plugin (schema_text.py, schema_snapshot.py, pytest_plugin.py)."""

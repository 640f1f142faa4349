"""Cascade's compiler: reads decorated ingestion modules with libcst and renders checked-in
Iceberg schema modules and Dagster asset modules. It never imports or runs the project.

The stages, in the order data flows through them (ARCHITECTURE.md):

1. `frontend/` parses each module into facts (imports, classes, decorated functions);
2. `resolve/` links ingestions to their models, checks every argument, maps types and
   assigns field ids, producing the IR (`ir.py`) or diagnostics (`diagnostics.py`);
3. `render/` turns the IR into Python text, one renderer per output kind;
4. `driver/` runs the stages over a project with a content-hash cache and writes the files;
5. `review/` reads generations back as table contracts for `cascade diff` and the schema
   snapshots of the pytest plugin.

`config.py` reads `[tool.cascade]`; `cli.py` is the `cascade` command, which dispatches the
catalog operations (plan, apply, adopt, publish) to the runtime.
"""

from cascade.compiler.config import ProjectConfig, load_config
from cascade.compiler.driver.compile import Compilation, analyze_project, compile_project

__all__ = ["Compilation", "ProjectConfig", "analyze_project", "compile_project", "load_config"]

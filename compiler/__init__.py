"""Cascade's compiler: reads decorated ingestion modules with libcst and renders
checked-in Iceberg schema modules and Dagster asset modules."""

from cascade.compiler.compile import Compilation, analyze_project, compile_project
from cascade.compiler.config import ProjectConfig, load_config

__all__ = ["Compilation", "ProjectConfig", "analyze_project", "compile_project", "load_config"]

from cascade.runtime import cascade_ingestion
from models.table import Trees


@cascade_ingestion(table_name="trees", unique_key="tree_id", validation_schema=Trees, group="app")
def trees(partition_date: str):
    return None

from cascade.runtime import cascade_ingestion


@cascade_ingestion(tabel="x", group="app")
def first(partition_date: str):
    return None

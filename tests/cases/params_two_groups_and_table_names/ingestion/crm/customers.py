from cascade.runtime import cascade_ingestion
from models.shop import Customers


@cascade_ingestion(
    table_name="crm_customers",
    unique_key="customer_id",
    validation_schema=Customers,
    group="crm",
)
def load_customers(partition_date: str):
    """Customers from the CRM."""
    return None

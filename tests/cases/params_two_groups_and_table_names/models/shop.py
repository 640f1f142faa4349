from pandera.pandas import DataFrameModel, Field


class Orders(DataFrameModel):
    order_id: str = Field(description="Order id")
    total: float = Field(ge=0, description="Order total")


class Customers(DataFrameModel):
    customer_id: str = Field(description="Customer id")
    name: str = Field(description="Full name")

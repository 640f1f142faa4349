import pandera.pandas as pa


class EngineTypes(pa.DataFrameModel):
    tiny: pa.Int8
    small: pa.Int16
    medium: pa.Int32
    large: pa.Int64
    single: pa.Float32
    double: pa.Float64
    text: pa.String
    flag: pa.Bool
    day: pa.Date
    local_time: pa.DateTime = pa.Field(description="A naive timestamp: no zone")

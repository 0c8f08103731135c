"""Response schemas of the algorithm area (request schemas are each algorithm's own)."""
from marshmallow import Schema, fields


class AlgorithmMetadata(Schema):
    algorithm = fields.String(required=True, metadata={"example": "PrimeChecker"})
    version = fields.String(required=True, metadata={"example": "1.0.0"})
    elapsed_time = fields.Float(required=True, metadata={
        "description": "Seconds spent in the algorithm", "example": 0.001})


class InvokeResponse(Schema):
    """同步调用响应"""

    request_id = fields.String(required=True, metadata={"description": "请求唯一标识"})
    status = fields.String(required=True, metadata={"description": "处理状态", "example": "success"})
    result = fields.Dict(required=True, metadata={"description": "算法执行结果"})
    metadata = fields.Nested(AlgorithmMetadata, required=True, metadata={"description": "元数据信息"})


class AlgorithmInfo(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    description = fields.String(required=True)
    params_schema = fields.Dict(required=True,
                                metadata={"description": "JSON Schema of the params"})
    example = fields.Dict(required=True)


class AlgorithmList(Schema):
    algorithms = fields.List(fields.Nested(AlgorithmInfo), required=True)

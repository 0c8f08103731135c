from marshmallow import Schema, fields


class HealthResponse(Schema):
    """健康检查响应"""

    status = fields.String(required=True, metadata={"description": "健康状态", "example": "healthy"})
    timestamp = fields.Float(required=True, metadata={"description": "时间戳 (Unix seconds)"})


class ReadinessResponse(Schema):
    """就绪检查响应"""

    status = fields.String(required=True, metadata={"description": "就绪状态: ready or not_ready",
                                                    "example": "ready"})
    timestamp = fields.Float(required=True, metadata={"description": "时间戳 (Unix seconds)"})
    checks = fields.Dict(keys=fields.String(), values=fields.Boolean(), allow_none=True,
                         metadata={"description": "各项检查结果"})

"""The OpenAPI 3.1 document, generated from the schemas the code validates with.

Schema names follow the seed document (InvokeRequest, InvokeResponse, ErrorResponse,
...), so a client generated from the seed keeps its type names.
"""
from __future__ import annotations

from typing import Any, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app.algorithms.base import Algorithm
from app.errors import JOBS_PATH_PREFIX
from app.health.schemas import HealthResponse, ReadinessResponse
from app.invoke.schemas import AlgorithmList, InvokeResponse
from app.jobs.schemas import JOB_STATUS_SCHEMA, JobCreateResponse, JobRequest, JobStatusResponse
from app.schemas import ErrorResponse, JobErrorResponse

from app.schemas import OPENAPI_VERSION

JSON = "application/json"


def _content(schema_name: str) -> dict[str, Any]:
    return {JSON: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _responses(table: Mapping[int, tuple[str, str]]) -> dict[str, Any]:
    return {
        str(status): {"description": description, "content": _content(schema)}
        for status, (schema, description) in table.items()
    }


def _get(tag: str, summary: str, operation_id: str,
         table: Mapping[int, tuple[str, str]]) -> dict[str, Any]:
    """A plain GET operation: no parameters, JSON responses."""
    return {"get": {"tags": [tag], "summary": summary, "operationId": operation_id,
                    "responses": _responses(table)}}


REQUEST_ID_PARAMETER = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    # No maxLength: a longer or unprintable id is replaced by a fresh UUID4, never refused.
    "schema": {"type": "string"},
    "description": "Used as request_id when printable and at most 128 characters; "
                   "otherwise a fresh UUID4 is",
}


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 128},
    "description": "Extension: a repeat with the same key and body within the job TTL "
                   "returns the same job (200)",
}
JOB_ID_PARAMETER = {"name": "job_id", "in": "path", "required": True,
                    "schema": {"type": "string"}, "description": "任务唯一标识(12位十六进制)"}


def _invoke_operation(algorithm: Algorithm, request_schema: str, operation_id: str) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["Algorithm"],
            "summary": f"同步调用算法 {algorithm.name}",
            "description": algorithm.description,
            "operationId": operation_id,
            "parameters": [REQUEST_ID_PARAMETER],
            "requestBody": {"required": True, "content": _content(request_schema)},
            "responses": _responses(
                {
                    200: ("InvokeResponse", "成功"),
                    400: ("ErrorResponse", "请求参数错误"),
                    404: ("ErrorResponse", "算法不存在"),
                    408: ("ErrorResponse", "请求体未在时限内到达 (BODY_TIMEOUT_SECONDS)"),
                    413: ("ErrorResponse", "请求体过大"),
                    415: ("ErrorResponse", "请求体不是 JSON"),
                    500: ("ErrorResponse", "服务器内部错误"),
                    503: ("ErrorResponse", "服务繁忙 (Retry-After header)"),
                }
            ),
        }
    }


def _algorithm_paths(spec: APISpec, algorithms: Mapping[str, Algorithm], default: str) -> None:
    spec.components.schema("InvokeRequest", schema=algorithms[default].params_schema)
    spec.path("/invoke", operations=_invoke_operation(algorithms[default], "InvokeRequest", "invoke_algorithm"))
    # Algorithms may share a params schema class; each class is one component.
    component_of = {type(algorithms[default].params_schema): "InvokeRequest"}
    for name, algorithm in algorithms.items():
        params_class = type(algorithm.params_schema)
        if params_class not in component_of:
            component_of[params_class] = f"{name}Params"
            spec.components.schema(component_of[params_class], schema=algorithm.params_schema)
        request_name = component_of[params_class]
        if algorithm.result_schema is not None:
            spec.components.schema(f"{name}Result", schema=algorithm.result_schema)
        spec.path(f"/invoke/{name}", operations=_invoke_operation(algorithm, request_name, f"invoke_{name}"))
    spec.path("/algorithms", operations=_get("Algorithm", "算法列表", "list_algorithms",
                                              {200: ("AlgorithmList", "成功")}))


def _health_paths(spec: APISpec) -> None:
    spec.path("/healthz", operations=_get("Health", "存活检查", "health_check",
                                           {200: ("HealthResponse", "存活")}))
    spec.path("/readyz", operations=_get("Health", "就绪检查", "readiness_check",
                                          {200: ("ReadinessResponse", "就绪"),
                                           503: ("ReadinessResponse", "未就绪")}))
    spec.path(
        "/metrics",
        operations={
            "get": {
                "tags": ["Monitoring"],
                "summary": "Prometheus 指标",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "Prometheus text format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )


def _jobs_paths(spec: APISpec) -> None:
    spec.components.schema("JobStatus", JOB_STATUS_SCHEMA)
    for name, schema in (("JobRequest", JobRequest), ("JobCreateResponse", JobCreateResponse),
                         ("JobStatusResponse", JobStatusResponse)):
        spec.components.schema(name, schema=schema)
    unavailable = ("JobErrorResponse", "任务服务暂不可用 (Retry-After header)")
    spec.path(
        "/jobs",
        operations={
            "post": {
                "tags": ["Jobs"],
                "summary": "创建异步任务",
                "description": "创建异步任务,立即返回任务 ID,任务在后台执行",
                "operationId": "create_job",
                "parameters": [REQUEST_ID_PARAMETER, IDEMPOTENCY_PARAMETER],
                "requestBody": {"required": True, "content": _content("JobRequest")},
                "responses": _responses(
                    {
                        202: ("JobCreateResponse", "任务已创建 (Location: /jobs/{job_id})"),
                        200: ("JobCreateResponse", "Extension: the job an earlier request "
                                                   "with this Idempotency-Key created"),
                        409: ("JobErrorResponse", "Idempotency-Key reused with another body"),
                        400: ("JobErrorResponse", "请求参数错误"),
                        404: ("JobErrorResponse", "算法不存在"),
                        408: ("JobErrorResponse", "请求体未在时限内到达 (BODY_TIMEOUT_SECONDS)"),
                        413: ("JobErrorResponse", "请求体过大"),
                        415: ("JobErrorResponse", "请求体不是 JSON"),
                        503: unavailable,
                    }
                ),
            }
        },
    )
    spec.path(
        "/jobs/{job_id}",
        operations={
            "get": {
                "tags": ["Jobs"],
                "summary": "查询任务状态",
                "operationId": "get_job_status",
                "parameters": [JOB_ID_PARAMETER],
                "responses": _responses(
                    {
                        200: ("JobStatusResponse", "成功"),
                        404: ("JobErrorResponse", "任务不存在或已过期"),
                        503: unavailable,
                    }
                ),
            },
            "delete": {
                "tags": ["Jobs"],
                "summary": "取消任务 (extension)",
                "description": "Cancels a pending job, or a running one whose algorithm allows "
                               "it; the job then reads `cancelled`.",
                "operationId": "cancel_job",
                "parameters": [JOB_ID_PARAMETER],
                "responses": _responses(
                    {
                        200: ("JobStatusResponse", "已取消"),
                        404: ("JobErrorResponse", "任务不存在或已过期"),
                        409: ("JobErrorResponse", "任务已结束或不可取消"),
                        503: unavailable,
                    }
                ),
            },
        },
    )


# The two ways app/auth.py accepts an API key; Swagger UI's Authorize button offers both.
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "Authorization: Bearer <API key>"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "X-API-Key: <API key>"},
}


def _require_api_keys(document: dict[str, Any], public_paths: frozenset[str]) -> None:
    """Either scheme on every operation outside `public_paths`, which get `security: []`."""
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = [{name: []} for name in SECURITY_SCHEMES]
    for path, operations in document["paths"].items():
        envelope = "JobErrorResponse" if path.startswith(JOBS_PATH_PREFIX) else "ErrorResponse"
        for operation in operations.values():
            if path in public_paths:
                operation["security"] = []
            else:
                operation["responses"].update(
                    _responses({401: (envelope, "缺少或无效的 API key (WWW-Authenticate: Bearer)")})
                )


def build_spec(
    algorithms: Mapping[str, Algorithm],
    default_algorithm: str,
    public_paths: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The whole document, one area after another.

    `public_paths` is None when the service takes no API keys; otherwise every other
    operation is documented as needing one.
    """
    spec = APISpec(
        title="FunctionalScaffold",
        version="1.0.0",
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": "算法工程化 Serverless 脚手架 - 提供标准化的算法服务接口"},
    )
    for name, schema in (
        ("ErrorResponse", ErrorResponse),
        ("JobErrorResponse", JobErrorResponse),
        ("InvokeResponse", InvokeResponse),
        ("AlgorithmList", AlgorithmList),
        ("HealthResponse", HealthResponse),
        ("ReadinessResponse", ReadinessResponse),
    ):
        spec.components.schema(name, schema=schema)
    _algorithm_paths(spec, algorithms, default_algorithm)
    _jobs_paths(spec)
    _health_paths(spec)
    document = spec.to_dict()
    if public_paths is not None:
        _require_api_keys(document, public_paths)
    return document

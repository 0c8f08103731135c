"""The OpenAPI 3.1 document, from the URL map (a route without `@operation` stops the start)
and the schemas the code validates with, named as in the seed document for its clients."""
from __future__ import annotations

from typing import Any, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema
from flask import Flask
from werkzeug.routing import Rule

from app.algorithms.base import Algorithm
from app.docs.operations import (ATTRIBUTE, AUTOMATIC_METHODS, JSON, PATH_ALGORITHM_PARAMS,
                                 Operation, not_an_operation)
from app.web.errors import JOBS_PATH_PREFIX
from app.health.schemas import HealthResponse, ReadinessResponse
from app.invoke.schemas import AlgorithmList, InvokeResponse
from app.jobs.schemas import (JOB_STATUS_SCHEMA, WEBHOOK_STATUS_SCHEMA, JobCreateResponse,
                              JobRequest, JobStatusResponse)
from app.observability.metrics import route_template
from app.schemas import ErrorResponse, JobErrorResponse

OPENAPI_VERSION = "3.1.0"
_converter = OpenAPIConverter(OPENAPI_VERSION, lambda schema: None,
                              APISpec("", "", OPENAPI_VERSION))


def json_schema(schema: Schema) -> dict[str, Any]:
    """A schema as a standalone JSON Schema (GET /algorithms shows each algorithm's params)."""
    return _converter.schema2jsonschema(schema)


# The two ways app/web/auth.py accepts an API key; Swagger UI's Authorize button offers both.
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "Authorization: Bearer <API key>"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "X-API-Key: <API key>"},
}


def _ref(component: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{component}"}


def build_spec(app: Flask, algorithms: Mapping[str, Algorithm], default_algorithm: str,
               public_paths: frozenset[str] | None = None) -> dict[str, Any]:
    """The operations of every route in `app`'s URL map, with the components they name; with
    `public_paths` (API keys on), every other operation needs a key and may answer 401."""
    spec = APISpec("FunctionalScaffold", "1.0.0", OPENAPI_VERSION, [MarshmallowPlugin()],
                   info={"description": "算法工程化 Serverless 脚手架 - 提供标准化的算法服务接口"})
    spec.components.schema("JobStatus", JOB_STATUS_SCHEMA)
    spec.components.schema("WebhookStatus", WEBHOOK_STATUS_SCHEMA)
    for schema in (ErrorResponse, JobErrorResponse, InvokeResponse, AlgorithmList, HealthResponse,
                   ReadinessResponse, JobRequest, JobCreateResponse, JobStatusResponse):
        spec.components.schema(schema.__name__, schema=schema)
    params = _algorithm_components(spec, algorithms, default_algorithm)
    _typed_properties(spec.components.schemas, algorithms)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        documented = getattr(app.view_functions[rule.endpoint], ATTRIBUTE, None)
        if documented is None:
            raise LookupError(f"route {rule.rule} ({rule.endpoint}) has no @operation")
        if documented is not_an_operation:
            continue
        path = route_template(rule.rule)
        operations = {method.lower(): _operation(path, rule, documented, sorted(algorithms),
                                                 params, public_paths)
                      for method in sorted(rule.methods - AUTOMATIC_METHODS)}
        spec.path(path, operations=operations)
    if public_paths is None:
        return spec.to_dict()
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    return {**spec.to_dict(), "security": [{name: []} for name in SECURITY_SCHEMES]}


def _algorithm_components(spec: APISpec, algorithms: Mapping[str, Algorithm],
                          default: str) -> dict[str, Any]:
    """Each algorithm's params (the default's as InvokeRequest; one component per schema
    class) and result schemas; a body of any algorithm's params is one of the former."""
    component_of = {type(algorithms[default].params_schema): "InvokeRequest"}
    spec.components.schema("InvokeRequest", schema=algorithms[default].params_schema)
    for name, algorithm in algorithms.items():
        params_class = type(algorithm.params_schema)
        if params_class not in component_of:
            component_of[params_class] = f"{name}Params"
            spec.components.schema(component_of[params_class], schema=algorithm.params_schema)
        if algorithm.result_schema is not None:
            spec.components.schema(f"{name}Result", schema=algorithm.result_schema)
    return {"oneOf": [_ref(name) for name in component_of.values()]}


def _typed_properties(schemas: dict[str, Any], algorithms: Mapping[str, Algorithm]) -> None:
    """Properties apispec writes loosely, rewritten for generated clients (keeping their
    descriptions): the result as the algorithms' result schemas, each status as one named
    enum, not one per response."""
    results = [_ref(f"{name}Result") for name, algorithm in sorted(algorithms.items())
               if algorithm.result_schema is not None]
    if any(algorithm.result_schema is None for algorithm in algorithms.values()):
        # Any object, for an algorithm declaring no result schema; last, as a generated
        # client tries the typed ones first.
        results.append({"type": "object"})
    # anyOf, not oneOf: two algorithms' results may fit each other's schema.
    for component, name, schema in (
            ("InvokeResponse", "result", results[0] if len(results) == 1 else {"anyOf": results}),
            ("JobCreateResponse", "status", _ref("JobStatus")),
            ("JobStatusResponse", "status", _ref("JobStatus")),
            ("JobStatusResponse", "webhook_status",
             {"anyOf": [_ref("WebhookStatus"), {"type": "null"}]})):
        properties = schemas[component]["properties"]
        properties[name] = {**schema, "description": properties[name].get("description")}


def _operation(path: str, rule: Rule, documented: Operation, algorithms: list[str],
               params: dict[str, Any], public_paths: frozenset[str] | None) -> dict[str, Any]:
    """`documented` as OpenAPI; with PATH_ALGORITHM_PARAMS, the path names one of
    `algorithms` and the body is one of their `params`."""
    by_path = documented.request == PATH_ALGORITHM_PARAMS
    result: dict[str, Any] = {"tags": [documented.tag], "summary": documented.summary,
                              "operationId": documented.operation_id}
    if documented.description:
        result["description"] = documented.description
    parameters: list[dict[str, Any]] = []
    for name in sorted(rule.arguments):
        schema = {"type": "string", "enum": algorithms} if by_path else {"type": "string"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        if name in documented.path_descriptions:
            parameters[-1]["description"] = documented.path_descriptions[name]
    if parameters or documented.headers:
        result["parameters"] = parameters + list(documented.headers)
    if documented.request is not None:
        result["requestBody"] = {"required": True, "content": {
            JSON: {"schema": params if by_path else _ref(documented.request)}}}
    responses = dict(documented.responses)
    if public_paths is not None and path not in public_paths:
        envelope = "JobErrorResponse" if path.startswith(JOBS_PATH_PREFIX) else "ErrorResponse"
        responses[401] = (envelope, "缺少或无效的 API key (WWW-Authenticate: Bearer)")
    # A component name is a JSON body; an inline schema is a body of the operation's type.
    result["responses"] = {str(status): {"description": description, "content": (
        {JSON: {"schema": _ref(schema)}} if isinstance(schema, str)
        else {documented.content_type: {"schema": schema}})}
        for status, (schema, description) in responses.items()}
    if public_paths is not None and path in public_paths:
        result["security"] = []
    return result

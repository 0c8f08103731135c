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
from app.docs.operations import (JSON, NOT_AN_OPERATION, PATH_ALGORITHM_PARAMS, Operation,
                                 operation_of)
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


# Flask answers these on every route by itself; the document lists what the views serve.
UNDOCUMENTED_METHODS = frozenset({"HEAD", "OPTIONS"})


def _ref(component: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{component}"}


class _Document:
    """The operations of every route in `app`'s URL map, with the components they name; with
    `public_paths` (API keys on), every other operation may answer 401."""

    def __init__(self, spec: APISpec, algorithms: Mapping[str, Algorithm], default: str,
                 public_paths: frozenset[str] | None) -> None:
        self.spec = spec
        self.algorithms = algorithms
        self.public_paths = public_paths
        self.params_components = self._algorithm_components(default)
        self._typed_properties()

    def _typed_properties(self) -> None:
        """Properties apispec writes loosely, rewritten for generated clients: the result as
        the algorithms' result schemas, each status as one named enum, not one per response."""
        algorithms = sorted(self.algorithms.items())
        results = [_ref(f"{name}Result") for name, algorithm in algorithms
                   if algorithm.result_schema is not None]
        if any(algorithm.result_schema is None for _, algorithm in algorithms):
            # Any object, for an algorithm declaring no result schema; last, as a generated
            # client tries the typed ones first.
            results.append({"type": "object"})
        # anyOf, not oneOf: two algorithms' results may fit each other's schema.
        self._retype("InvokeResponse", "result",
                     results[0] if len(results) == 1 else {"anyOf": results})
        for component in ("JobCreateResponse", "JobStatusResponse"):
            self._retype(component, "status", _ref("JobStatus"))
        self._retype("JobStatusResponse", "webhook_status",
                     {"anyOf": [_ref("WebhookStatus"), {"type": "null"}]})

    def _retype(self, component: str, name: str, schema: dict[str, Any]) -> None:
        """The property becomes `schema`, keeping its description."""
        properties = self.spec.components.schemas[component]["properties"]
        properties[name] = {**schema, "description": properties[name].get("description")}

    def _algorithm_components(self, default: str) -> list[str]:
        """Each algorithm's params (the default's as InvokeRequest; one component per
        schema class) and result schemas."""
        component_of = {type(self.algorithms[default].params_schema): "InvokeRequest"}
        self.spec.components.schema("InvokeRequest", schema=self.algorithms[default].params_schema)
        for name, algorithm in self.algorithms.items():
            params_class = type(algorithm.params_schema)
            if params_class not in component_of:
                component_of[params_class] = f"{name}Params"
                self.spec.components.schema(component_of[params_class],
                                            schema=algorithm.params_schema)
            if algorithm.result_schema is not None:
                self.spec.components.schema(f"{name}Result", schema=algorithm.result_schema)
        return list(component_of.values())

    def add_routes(self, app: Flask) -> None:
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            documented = operation_of(app.view_functions[rule.endpoint])
            if documented is None:
                raise LookupError(f"route {rule.rule} ({rule.endpoint}) has no @operation")
            if documented == NOT_AN_OPERATION:
                continue
            path = route_template(rule.rule)
            operations = {method.lower(): self._operation(path, rule, documented)
                          for method in sorted(rule.methods - UNDOCUMENTED_METHODS)}
            self.spec.path(path, operations=operations)

    def _operation(self, path: str, rule: Rule, documented: Operation) -> dict[str, Any]:
        result: dict[str, Any] = {"tags": [documented.tag], "summary": documented.summary,
                                  "operationId": documented.operation_id}
        if documented.description:
            result["description"] = documented.description
        parameters = [self._path_parameter(name, documented) for name in sorted(rule.arguments)]
        parameters += documented.headers
        if parameters:
            result["parameters"] = parameters
        if documented.request is not None:
            result["requestBody"] = {"required": True,
                                     "content": {JSON: {"schema": self._request(documented)}}}
        responses = dict(documented.responses)
        if self.public_paths is not None and path not in self.public_paths:
            envelope = "JobErrorResponse" if path.startswith(JOBS_PATH_PREFIX) else "ErrorResponse"
            responses[401] = (envelope, "缺少或无效的 API key (WWW-Authenticate: Bearer)")
        result["responses"] = {str(status): {"description": description,
                                             "content": self._content(schema, documented)}
                               for status, (schema, description) in responses.items()}
        if self.public_paths is not None and path in self.public_paths:
            result["security"] = []
        return result

    @staticmethod
    def _content(schema: str | dict[str, Any], documented: Operation) -> dict[str, Any]:
        """A component name is a JSON body; an inline schema is a body of the operation's type."""
        if isinstance(schema, str):
            return {JSON: {"schema": _ref(schema)}}
        return {documented.content_type: {"schema": schema}}

    def _path_parameter(self, name: str, documented: Operation) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if documented.request == PATH_ALGORITHM_PARAMS:
            schema["enum"] = sorted(self.algorithms)
        parameter = {"name": name, "in": "path", "required": True, "schema": schema}
        if name in documented.path_descriptions:
            parameter["description"] = documented.path_descriptions[name]
        return parameter

    def _request(self, documented: Operation) -> dict[str, Any]:
        if documented.request == PATH_ALGORITHM_PARAMS:
            return {"oneOf": [_ref(name) for name in self.params_components]}
        return _ref(documented.request)


# The two ways app/web/auth.py accepts an API key; Swagger UI's Authorize button offers both.
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "Authorization: Bearer <API key>"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "X-API-Key: <API key>"},
}


def build_spec(app: Flask, algorithms: Mapping[str, Algorithm], default_algorithm: str,
               public_paths: frozenset[str] | None = None) -> dict[str, Any]:
    """The whole document; with `public_paths` (API keys on), every other operation needs a key."""
    spec = APISpec("FunctionalScaffold", "1.0.0", OPENAPI_VERSION, [MarshmallowPlugin()],
                   info={"description": "算法工程化 Serverless 脚手架 - 提供标准化的算法服务接口"})
    spec.components.schema("JobStatus", JOB_STATUS_SCHEMA)
    spec.components.schema("WebhookStatus", WEBHOOK_STATUS_SCHEMA)
    for schema in (ErrorResponse, JobErrorResponse, InvokeResponse, AlgorithmList, HealthResponse,
                   ReadinessResponse, JobRequest, JobCreateResponse, JobStatusResponse):
        spec.components.schema(schema.__name__, schema=schema)
    _Document(spec, algorithms, default_algorithm, public_paths).add_routes(app)
    if public_paths is None:
        return spec.to_dict()
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    return {**spec.to_dict(), "security": [{name: []} for name in SECURITY_SCHEMES]}

"""POST /invoke, POST /invoke/{algorithm} and GET /algorithms."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from app.algorithms.base import AlgorithmInputError, execute, one_line_error
from app.algorithms.registry import find_algorithm
from app.docs.openapi import json_schema
from app.docs.operations import PATH_ALGORITHM_PARAMS, REQUEST_ID_HEADER, body_errors, operation
from app.errors import InvalidInput
from app.web.errors import ApiError
from app.extensions import scaffold
from app.invoke.schemas import AlgorithmList, InvokeResponse
from app.web.json_body import json_object_body
from app.web.request_id import current_request_id
from app.validation import load

bp = Blueprint("algorithm", __name__)

log = logging.getLogger(__name__)
algorithm_list = AlgorithmList()
invoke_response = InvokeResponse()
INVOKE_RESPONSES = {
    200: ("InvokeResponse", "成功"),
    **body_errors("ErrorResponse"),
    500: ("ErrorResponse", "服务器内部错误"),
    503: ("ErrorResponse", "服务繁忙 (Retry-After header)"),
}


@bp.post("/invoke")
@operation("Algorithm", "同步调用算法", "invoke_algorithm", INVOKE_RESPONSES,
           request="InvokeRequest", headers=(REQUEST_ID_HEADER,))
def invoke_default() -> Response:
    return invoke_named(scaffold().settings.default_algorithm)


@bp.post("/invoke/<algorithm>")
@operation("Algorithm", "按名称同步调用算法", "invoke_named_algorithm", INVOKE_RESPONSES,
           description="The same call for any registered algorithm; the body is its params.",
           request=PATH_ALGORITHM_PARAMS, headers=(REQUEST_ID_HEADER,))
def invoke_named(algorithm: str) -> Response:
    services = scaffold()
    target = find_algorithm(services.algorithms, algorithm)
    params = load(target.params_schema, json_object_body())
    with services.invoke_slots.taken():
        try:
            execution = execute(target, params, services.metrics)
        except AlgorithmInputError as exc:
            log.info("algorithm refused its input", extra={"algorithm": target.name,
                                                           "reason": one_line_error(exc)})
            raise InvalidInput(one_line_error(exc), field="body", algorithm=target.name) from None
        except Exception as exc:
            log.exception("algorithm failed", extra={"algorithm": target.name})
            raise ApiError(500, "ALGORITHM_ERROR", one_line_error(exc),
                           {"algorithm": target.name}) from None
    return jsonify(invoke_response.dump({"request_id": current_request_id(), "status": "success",
                                         "result": execution.result,
                                         "metadata": execution.metadata}))


@bp.get("/algorithms")
@operation("Algorithm", "算法列表", "list_algorithms", {200: ("AlgorithmList", "成功")})
def list_algorithms() -> Response:
    """Every registered algorithm with its version and the JSON Schema of its params."""
    algorithms = [{**vars(a), "params_schema": json_schema(a.params_schema)}
                  for a in scaffold().algorithms.values()]
    return jsonify(algorithm_list.dump({"algorithms": algorithms}))

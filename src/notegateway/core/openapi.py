"""OpenAPI for bodies we read by hand: the schemas still appear in /openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_BODY_MODELS: dict[str, type[BaseModel]] = {}
_REF = "#/components/schemas/{model}"


def json_body(
    model: type[BaseModel], *, array: tuple[int, int] | None = None, required: bool = True
) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON request body of `model` (or an array of it)."""
    _BODY_MODELS[model.__name__] = model
    schema: dict[str, Any] = {"$ref": _REF.format(model=model.__name__)}
    if array is not None:
        return json_array_body(schema, *array)
    return _request_body(schema, required)


def json_array_body(item_schema: dict[str, Any], min_items: int, max_items: int) -> dict[str, Any]:
    schema = {"type": "array", "items": item_schema, "minItems": min_items, "maxItems": max_items}
    return _request_body(schema, required=True)


def _request_body(schema: dict[str, Any], required: bool) -> dict[str, Any]:
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}
    }


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


_PROBLEM_REF = {"$ref": _REF.format(model="Problem")}
_RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}
# The errors every operation of the API may answer, and those of operations with a body.
_ALWAYS = {
    "400": "invalid path or query parameter",
    "401": "missing, unknown or disabled credentials",
    "403": "this role may not call this",
    "429": "too many requests in progress for this client",
    "503": "the database is unavailable, or the server overloaded; try again",
}
_WITH_BODY = {
    "400": "malformed JSON, or an invalid path or query parameter",
    "408": "the body did not arrive in time",
    "413": "the body is larger than 1 MiB",
    "422": "invalid input",
}
_WITH_ID = {"404": "no such thing, or not this client's"}


def _problem_response(description: str, status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM_REF}},
    }
    if status in ("429", "503"):
        response["headers"] = _RETRY_AFTER
    return response


def _true_errors(document: dict[str, Any]) -> None:
    """Each error response as it really is: problem+json with its real status (FastAPI
    would declare 422 HTTPValidationError for parameters; the gateway answers 400)."""
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            responses = operation["responses"]
            declared_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
            if "HTTPValidationError" in str(declared_422.get("schema", {})):
                del responses["422"]
            errors = dict(_ALWAYS)
            if "requestBody" in operation:
                errors |= _WITH_BODY
            if "{" in path:
                errors |= _WITH_ID
            for status, response in responses.items():  # declared by a route, bare
                if status >= "400" and "content" not in response:
                    response.update(_problem_response(response["description"], status))
            for status, description in errors.items():
                problem = _problem_response(description, status)
                if status in responses:  # e.g. a batch's 422 results: problem+json too
                    responses[status].setdefault("content", {}).update(problem["content"])
                else:
                    responses[status] = problem
    schemas = document["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, model in sorted(_BODY_MODELS.items()):
            schema = model.model_json_schema(by_alias=True, ref_template=_REF, mode="validation")
            for def_name, definition in schema.pop("$defs", {}).items():
                components.setdefault(def_name, definition)
            components.setdefault(name, schema)
        for model in (Problem, ProblemError):
            components[model.__name__] = model.model_json_schema(ref_template=_REF)
        components["Problem"].pop("$defs", None)
        _true_errors(document)
        document["components"]["schemas"] = dict(sorted(components.items()))
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]

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
        document["components"]["schemas"] = dict(sorted(components.items()))
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]

"""Validating wire input item by item into pydantic models, with camelCase error locations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from notegateway.core.errors import ErrorItem, Unprocessable
from notegateway.core.jsonbody import canonicalise

M = TypeVar("M", bound=BaseModel)


class WireModel(BaseModel):
    """Input: camelCase names, unknown fields ignored and not kept, numbers may be strings."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="ignore")


MAX_ID = 2**62  # NEISPUO ids are integers; kept well inside bigint


class OutModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ErrorOut(OutModel):
    # One error of one field, in a batch's result line (no docstring: it would enter the
    # OpenAPI document).
    loc: list[str | int]
    msg: str

    @classmethod
    def of(cls, errors: Sequence[ErrorItem]) -> list[ErrorOut]:
        return [cls(loc=e["loc"], msg=e["msg"]) for e in errors]


def reject_bool(value: Any) -> Any:
    """Numbers may come as numeric strings, but never as true/false."""
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


def known_names(*models: type[BaseModel]) -> dict[str, str]:
    """Case-folded → camelCase for every field of these models and the models inside them."""
    names: dict[str, str] = {}
    pending: list[type[BaseModel]] = list(models)
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for field_name, field in model.model_fields.items():
            alias = field.alias or field_name
            names[alias.casefold()] = alias
            for arg in _model_args(field.annotation):
                pending.append(arg)
    return names


def _model_args(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_model_args(arg))
    return found


def pydantic_errors(exc: ValidationError) -> list[ErrorItem]:
    errors: list[ErrorItem] = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"]
        if error["type"] == "value_error" and message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        errors.append({"loc": list(error["loc"]), "msg": message})
    return errors


def validate_item(
    model: type[M],
    value: Any,
    known: dict[str, str],
) -> tuple[M | None, list[ErrorItem]]:
    """Validate one parsed JSON item against `model`; errors carry camelCase locations."""
    try:
        renamed, errors = canonicalise(value, known)
    except RecursionError:
        return None, [{"loc": [], "msg": "nested too deeply"}]
    try:
        parsed = model.model_validate(renamed)
    except ValidationError as exc:
        return None, errors + pydantic_errors(exc)
    if errors:
        return None, errors
    return parsed, []


def validated(model: type[M], value: Any, known: dict[str, str], message: str) -> M:
    """One request body as `model`, or 422 with `message` and the errors of each field."""
    parsed, errors = validate_item(model, value, known)
    if parsed is None:
        raise Unprocessable(message, errors)
    return parsed

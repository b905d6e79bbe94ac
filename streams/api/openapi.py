"""The API's OpenAPI 3.1 document, generated from the route table (catalog.py) and its pydantic models.

Why generated: schemas written by hand drift from the code; these are pydantic's own `model_json_schema`
output (JSON Schema 2020-12, which OpenAPI 3.1 uses as is), so a field added to a model is documented, and
fuzzed by the schemathesis test, without anyone editing this file. Only the envelope is built here: paths,
parameters (one per field of the query model), bodies, answers, security and the error answers every route
shares.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from streams.api import schemas
from streams.api.auth import Role
from streams.api.catalog import API_PREFIX, OPERATIONS, Operation
from streams.api.routes import PUBLIC, required_role

__all__ = ["openapi_document", "TITLE", "VERSION"]

TITLE = "OmniTrack API"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

COMMON_ERRORS: dict[int, str] = {400: "invalid query, path or body", 401: "no valid bearer token",
                                 403: "the token lacks the role", 429: "rate limit of the token's subject"}


def _models(ops: Iterable[Operation]) -> list[tuple[type[BaseModel], str]]:
    wanted: dict[tuple[type[BaseModel], str], None] = {(schemas.ErrorBody, "serialization"): None}
    for op in ops:
        for model in (op.query, op.body):
            if model is not None:
                wanted[(model, "validation")] = None
        for model in op.responses.values():
            if model is not None:
                wanted[(model, "serialization")] = None
    return list(wanted)


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`X | None` as a query parameter: absent is how a query says None, so the schema is X's."""
    branches = schema.get("anyOf")
    if isinstance(branches, list) and {"type": "null"} in branches and len(branches) == 2:
        rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
        return {**next(b for b in branches if b != {"type": "null"}), **rest}
    return schema


def _parameters(op: Operation, defs: dict[str, Any], refs: dict[Any, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [{"name": name, "in": "path", "required": True, "schema": schema}
                                    for name, schema in op.path_params.items()]
    if op.query is not None:
        query = defs[refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1]]
        required = set(query.get("required", ()))
        for name, schema in query.get("properties", {}).items():
            schema = _not_null(dict(schema))
            schema.pop("title", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": schema}
            if "description" in schema:
                param["description"] = schema.pop("description")
            params.append(param)
    return params


def _body(op: Operation, defs: dict[str, Any], refs: dict[Any, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = refs[(op.body, "validation")]
    if op.body_optional:  # a copy of the model's schema, with the fields the handler fills in not required
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = copy.deepcopy(defs[name])
        schema["required"] = [f for f in schema.get("required", ()) if f not in op.body_optional]
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _responses(op: Operation, refs: dict[Any, Any], public: bool) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": refs[(schemas.ErrorBody, "serialization")]}}}
    out: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        answer: dict[str, Any] = {"description": _describe(status)}
        if op.stream and status == 200:
            answer["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
        elif model is not None:
            answer["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
        out[str(status)] = answer
    for status, why in COMMON_ERRORS.items():
        if public and status != 400:
            continue
        out.setdefault(str(status), {"description": why, **error})
    return out


def _describe(status: int) -> str:
    return {200: "OK", 202: "accepted for delivery", 404: "not found", 503: "not available now"}.get(status, "")


def openapi_document(operations: Iterable[Operation] = OPERATIONS) -> dict[str, Any]:
    """The document for these operations, paths under API_PREFIX (the unprefixed aliases are not listed)."""
    ops = list(operations)
    refs, top = models_json_schema(_models(ops), ref_template=REF)
    defs: dict[str, Any] = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        role = required_role(op.handler)
        public = role is PUBLIC
        entry: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
                                 "parameters": _parameters(op, defs, refs),
                                 "responses": _responses(op, refs, public)}
        if op.handler.__doc__:
            entry["description"] = " ".join(op.handler.__doc__.split())
        if op.body is not None:
            entry["requestBody"] = _body(op, defs, refs)
        if public:
            entry["security"] = []
        else:
            assert isinstance(role, Role)
            entry["x-required-role"] = role.name
            entry["description"] = f"Role: {role.name}. " + entry.get("description", "")
        if not entry["parameters"]:
            del entry["parameters"]
        paths.setdefault(API_PREFIX + op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION,
                 "description": "Alerts, scenarios, the digital twin and the network of OmniTrack (docs/api.md). "
                                f"Every path is also served without the `{API_PREFIX}` prefix, as an alias."},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": paths,
        "components": {"schemas": defs, "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "roles claim: viewer < operator < admin"}}},
        "security": [{"bearer": []}],
    }

"""Check recorded exchanges against Harbor's official Swagger 2.0 spec.

A small validator for the subset of Swagger 2.0 schemas Harbor's spec uses (`$ref`, types,
`properties`, `items`, `additionalProperties`, `x-nullable`, int formats, `date-time`,
`maxLength`, `maximum`). It is stricter than Swagger on one point: a property the model does
not declare is an error, because go-swagger models never emit one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .wire import API_PREFIX, Exchange, Request

Schema = Mapping[str, Any]
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_INT_RANGES = {"int8": 2**7, "int32": 2**31, "int64": 2**63}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: Schema


class Spec:
    """The loaded swagger document, with path lookup and schema validation."""

    def __init__(self, document: Schema) -> None:
        self.document = document
        templates = sorted(document["paths"], key=lambda t: t.count("{"))
        self._paths = [
            (t, re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", t) + "$")) for t in templates
        ]

    @classmethod
    def load(cls, path: Path) -> Spec:
        from ruamel.yaml import YAML

        return cls(YAML(typ="safe").load(path.read_text(encoding="utf-8")))

    def operation(self, request: Request) -> Operation | None:
        """The documented operation for this method and path (static paths win)."""
        path = request.path.removeprefix(API_PREFIX)
        for template, pattern in self._paths:
            if pattern.match(path):
                found = self.document["paths"][template].get(request.method.lower())
                return None if found is None else Operation(request.method, template, found)
        return None

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            *_, section, name = schema["$ref"].split("/")
            schema = self.document[section][name]
        return schema

    def validate(self, schema: Schema, value: Any, where: str = "$") -> list[str]:
        """Every way `value` breaks `schema`, as `path: problem` strings."""
        schema = self.resolve(schema)
        if value is None:
            nullable = schema.get("x-nullable") or schema.get("x-isnullable")
            return [] if nullable else [f"{where}: null is not allowed"]
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind is None:
            return []
        wrong_bool = kind in ("integer", "number") and isinstance(value, bool)
        if wrong_bool or not isinstance(value, _JSON_TYPES[kind]):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
        if isinstance(value, dict):
            return self._object(schema, value, where)
        if isinstance(value, list):
            item = schema.get("items", {})
            return [p for i, v in enumerate(value) for p in self.validate(item, v, f"{where}[{i}]")]
        return _scalar(schema, value, where)

    def _object(self, schema: Schema, value: dict[str, Any], where: str) -> list[str]:
        problems: list[str] = []
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                problems += self.validate(properties[key], item, f"{where}.{key}")
            elif isinstance(extra, Mapping):
                problems += self.validate(extra, item, f"{where}.{key}")
            elif properties and extra is not True:
                problems.append(f"{where}.{key}: not a property of the model")
        return problems

    def request_problems(self, request: Request) -> list[str]:
        """How a request's JSON body departs from the operation's body schema (for clients)."""
        operation = self.operation(request)
        if operation is None:
            return [f"{request.method} {request.path}: not in the spec"]
        for parameter in operation.spec.get("parameters", []):
            parameter = self.resolve(parameter)
            if parameter.get("in") == "body" and request.body:
                return [
                    f"{request.method} {operation.template}: {problem}"
                    for problem in self.validate(parameter["schema"], request.json())
                ]
        return []

    def response_problems(self, exchange: Exchange) -> list[str]:
        """How a response departs from the operation's documented status, headers and body."""
        request, response = exchange.request, exchange.response
        operation = self.operation(request)
        if operation is None:
            return [f"{request.method} {request.path}: not in the spec"]
        declared = operation.spec["responses"].get(str(response.status))
        if declared is None:
            return [f"{request.method} {operation.template}: status {response.status} not declared"]
        declared = self.resolve(declared)
        problems = [  # Harbor sends Link only when there is another page
            f"header {name} missing"
            for name in declared.get("headers", {})
            if name not in ("Content-Type", "Link") and response.header(name) is None
        ]
        schema = declared.get("schema")
        if request.method == "HEAD":  # no body, whatever the schema
            pass
        elif schema is None:
            if response.body:
                problems.append("body present where the spec declares none")
        elif "text/plain" in operation.spec.get("produces", []):
            problems += self.validate(schema, response.body.decode(), "$")
        else:
            problems += self.validate(schema, response.json())
        return [f"{request.method} {operation.template} {response.status}: {p}" for p in problems]


def _scalar(schema: Schema, value: Any, where: str) -> list[str]:
    problems = []
    fmt = schema.get("format")
    if fmt == "date-time" and not _DATE_TIME.match(value):
        problems.append(f"{where}: {value!r} is not a date-time")
    if fmt in _INT_RANGES and not -_INT_RANGES[fmt] <= value < _INT_RANGES[fmt]:
        problems.append(f"{where}: {value} does not fit {fmt}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not one of {schema['enum']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{where}: longer than {schema['maxLength']}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{where}: above {schema['maximum']}")
    return problems

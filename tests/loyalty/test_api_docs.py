"""The API docs, as the mini-program's developers read them (loyalty/api/docs.py).

Walks the generated OpenAPI schema: every operation has a Chinese summary and description, one
declared tag, says who calls it, has an example of its success response and of its request body,
and every example is valid against the schema it illustrates (no field it does not declare, none
of the required ones missing), so Swagger UI shows the API as it answers.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator, FormatChecker

from loyalty.api.idempotency import idempotent

CJK = re.compile(r"[\u4e00-\u9fff]")
METHODS = ("get", "post", "put", "patch", "delete")
# The code object of every @idempotent view method (each is this wrapper around the view's own).
IDEMPOTENT_WRAPPER = idempotent(lambda self, request: None).__code__


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def json_content(node) -> dict | None:
    return (node or {}).get("content", {}).get("application/json")


def success_responses(operation):
    return {code: r for code, r in operation["responses"].items() if code.startswith("2")}


def test_every_operation_has_a_chinese_summary_and_description_and_one_declared_tag(schema):
    declared = [tag["name"] for tag in schema["tags"]]
    used = set()
    problems = []
    for name, operation in operations(schema):
        summary, description = operation.get("summary", ""), operation.get("description", "")
        if not CJK.search(summary):
            problems.append(f"{name}: no Chinese summary")
        if not CJK.search(description) or len(description) < 80:
            problems.append(f"{name}: no Chinese description")
        if "**错误码**" not in description:
            problems.append(f"{name}: the description lists no error codes")
        tags = operation.get("tags", [])
        if len(tags) != 1 or tags[0] not in declared:
            problems.append(f"{name}: tags {tags} are not one of the declared tags")
        used.update(tags)
    assert not problems, "\n".join(problems)
    assert used == set(declared), f"declared but unused tags: {set(declared) - used}"
    assert all(CJK.search(tag["name"]) and CJK.search(tag["description"]) for tag in schema["tags"])


def test_every_operation_has_an_example_of_its_success_response_and_of_its_request_body(schema):
    problems = []
    for name, operation in operations(schema):
        for code, response in success_responses(operation).items():
            content = json_content(response)
            if content is not None and not content.get("examples"):
                problems.append(f"{name}: no example of its {code} response")
        body = json_content(operation.get("requestBody"))
        if body is not None and not body.get("examples"):
            problems.append(f"{name}: no example of its request body")
    assert not problems, "\n".join(problems)


def _json_schema(node, components):
    """An OpenAPI 3.0 schema as JSON Schema: references resolved, ``nullable`` spelt out, and an object
    with declared properties closed (an example must not show a field the API does not have)."""
    if isinstance(node, list):
        return [_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components)
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _json_schema(prop, components) for name, prop in value.items()}
        elif key not in ("nullable", "description", "example", "readOnly", "writeOnly"):
            out[key] = _json_schema(value, components)
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime_with_offset(value) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("uri")
def _is_absolute_url(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def examples_of(operation):
    """(where, media type object, example) for every example of a request body or a response."""
    body = json_content(operation.get("requestBody"))
    for label, example in (body or {}).get("examples", {}).items():
        yield f"request {label}", body, example
    for code, response in operation["responses"].items():
        content = json_content(response)
        for label, example in (content or {}).get("examples", {}).items():
            yield f"{code} {label}", content, example


def test_every_example_is_valid_against_its_schema(schema):
    components = schema["components"]["schemas"]
    problems = []
    count = 0
    for name, operation in operations(schema):
        for where, media, example in examples_of(operation):
            count += 1
            validator = Draft202012Validator(
                _json_schema(media["schema"], components), format_checker=FORMATS
            )
            for error in validator.iter_errors(example["value"]):
                path = "/".join(str(p) for p in error.absolute_path)
                problems.append(f"{name} {where} at {path or '(root)'}: {error.message[:200]}")
    assert not problems, "\n".join(problems)
    assert count >= 64  # the walk really saw the examples


def _properties(node, components, seen=()) -> set[str]:
    """Every property name anywhere under ``node``."""
    if isinstance(node, list):
        return set().union(*(_properties(item, components, seen) for item in node))
    if not isinstance(node, dict):
        return set()
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return set() if name in seen else _properties(components[name], components, (*seen, name))
    names = set(node.get("properties", {}))
    for key, value in node.items():
        if key == "properties":
            names |= set().union(*(_properties(prop, components, seen) for prop in value.values()))
        elif isinstance(value, (dict, list)):
            names |= _properties(value, components, seen)
    return names


def test_an_operation_with_amounts_says_they_are_fen(schema):
    components = schema["components"]["schemas"]
    problems = []
    for name, operation in operations(schema):
        media = [json_content(operation.get("requestBody"))]
        media += [json_content(r) for r in success_responses(operation).values()]
        fields = set().union(*(_properties(m["schema"], components) for m in media if m))
        if any(field.endswith("_fen") for field in fields) and "金额单位为分" not in operation["description"]:
            problems.append(f"{name}: has *_fen fields and does not say 金额单位为分")
    assert not problems, "\n".join(problems)


def test_each_operation_says_who_calls_it_and_how_it_authenticates(schema):
    problems = []
    for name, operation in operations(schema):
        schemes = {scheme for requirement in operation.get("security", []) for scheme in requirement}
        caller = next(line for line in operation["description"].splitlines() if line.startswith("**调用方**"))
        says_member = "Authorization: Bearer" in caller
        says_server = "X-Signature" in caller
        if says_member != ("memberToken" in schemes) or says_server != ("serverSignature" in schemes):
            problems.append(f"{name}: security {sorted(schemes)} but the description says otherwise")
    assert not problems, "\n".join(problems)


def _view_methods():
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry

    for pattern, entry in walk(get_resolver().url_patterns):
        view = getattr(entry.callback, "cls", None)
        if view is None or not pattern.startswith("api/v1/"):
            continue
        path = "/api/" + re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m: "{" + ("id" if m[1] == "pk" else m[1]) + "}", pattern[4:]
        )
        for method in METHODS:
            if hasattr(view, method):
                yield path, method, getattr(view, method)


def test_exactly_the_idempotent_operations_document_the_idempotency_key_header(schema):
    problems = []
    seen = 0
    for path, method, function in _view_methods():
        operation = schema["paths"].get(path, {}).get(method)
        if operation is None:
            continue  # left out of the schema (the health check's twin with a slash)
        seen += 1
        documented = any(
            p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])
        )
        required = function.__code__ is IDEMPOTENT_WRAPPER
        if documented != required or (required and "Idempotency-Key" not in operation["description"]):
            problems.append(f"{method.upper()} {path}: @idempotent is {required}, documented is {documented}")
    assert not problems, "\n".join(problems)
    assert seen == sum(1 for _ in operations(schema))


def test_the_front_page_explains_auth_idempotency_money_and_errors(schema):
    description = schema["info"]["description"]
    for needle in ("Authorization: Bearer", "X-Signature", "HMAC-SHA256", "Idempotency-Key", "金额单位为分"):
        assert needle in description
    assert '{"code"' in description and "details" in description
    assert CJK.search(schema["info"]["title"])


def test_every_error_response_has_an_example_of_each_code_the_operation_lists(schema):
    problems = []
    for name, operation in operations(schema):
        for code, response in operation["responses"].items():
            content = json_content(response)
            if code >= "400" and content is not None and not content.get("examples"):
                problems.append(f"{name}: no example of its {code} response")
        for entry in operation.get("x-error-codes", []):
            examples = json_content(operation["responses"].get(str(entry["status"]))).get("examples", {})
            if examples.get(entry["code"], {}).get("value", {}).get("code") != entry["code"]:
                problems.append(f"{name}: no example of {entry['status']} {entry['code']}")
            if f"`{entry['code']}`" not in operation["description"] or not CJK.search(entry["message"]):
                problems.append(f"{name}: {entry['code']} is not explained in Chinese in the description")
    assert not problems, "\n".join(problems)


def test_every_description_in_the_schema_is_chinese(schema):
    """No English docstring or help text reaches the API's readers."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "description" and isinstance(value, str) and value and not CJK.search(value):
                    found.append(f"{where}: {value[:80]}")
                elif key not in ("examples", "example"):
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")

    walk(schema, "")
    assert not found, "\n".join(found)

"""Schema post-processing: the errors any operation can answer, documented once for all of them.

Found by fuzzing (tests/fuzz), each answered whatever the view declares: 401
for a bad token or signature on an authenticated operation; 400 for any input
(a malformed body, a bad query value, a missing Idempotency-Key); 404 for an
unknown id in the path or a stale pagination cursor.
"""

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description):
    return {"content": {"application/json": {"schema": _ERROR}}, "description": description}


def document_common_errors(result, generator, request, public):
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            parameters = operation.get("parameters", [])
            if operation.get("security") and {} not in operation["security"]:
                responses.setdefault("401", _error("未认证或签名无效（not_authenticated / signature_*）"))
            if parameters or "requestBody" in operation or method in ("post", "put", "patch"):
                responses.setdefault("400", _error("请求参数有误（validation_error / malformed_request 等）"))
            if any(p.get("in") == "path" or p.get("name") == "cursor" for p in parameters):
                responses.setdefault("404", _error("不存在（未知的 id，或过期的分页游标）"))
    return result

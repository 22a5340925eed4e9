"""Tells drf-spectacular how our authentication classes appear in OpenAPI."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class MemberTokenScheme(OpenApiAuthenticationExtension):
    target_class = "members.authentication.MemberTokenAuthentication"
    name = "memberToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}


class ServerSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.api.server_auth.ServerSignatureAuthentication"
    name = "serverSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Signature",
            "description": "HMAC-SHA256; also send X-Api-Key, X-Timestamp, X-Nonce (see README).",
        }

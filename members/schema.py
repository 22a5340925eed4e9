"""Tells drf-spectacular how our authentication classes appear in OpenAPI."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class MemberTokenScheme(OpenApiAuthenticationExtension):
    target_class = "members.authentication.MemberTokenAuthentication"
    name = "memberToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "会员 token：`POST /api/v1/auth/wechat-login` 返回的 `token`，"
            "以 `Authorization: Bearer <token>` 发送。",
        }


class ServerSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.api.server_auth.ServerSignatureAuthentication"
    name = "serverSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Signature",
            "description": "服务端签名：HMAC-SHA256，与 `X-Api-Key`、`X-Timestamp`、`X-Nonce` 一起发送"
            "（算法见文档首页“服务端签名”）。",
        }

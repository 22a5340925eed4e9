import re

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_openapi_schema_lists_every_endpoint_with_its_security(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert {
        "/api/v1/auth/wechat-login",
        "/api/v1/auth/dev-login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/me/profile",
        "/api/v1/me/phone",
        "/api/v1/server/members/lookup",
        "/api/v1/health",
        "/api/v1/stored-value",
        "/api/v1/stored-value/plans",
        "/api/v1/stored-value/recharges",
        "/api/v1/stored-value/recharges/{id}",
        "/api/v1/stored-value/entries",
        "/api/v1/payments/wechat/notify",
        "/api/v1/payments/{out_trade_no}/simulate-pay",
    } <= set(schema["paths"])
    assert "security" not in schema["paths"]["/api/v1/payments/wechat/notify"]["post"]  # signed by WeChat
    assert schema["paths"]["/api/v1/me"]["get"]["security"] == [{"memberToken": []}]
    assert schema["paths"]["/api/v1/server/members/lookup"]["get"]["security"] == [{"serverSignature": []}]
    assert set(schema["components"]["securitySchemes"]) == {"memberToken", "serverSignature"}


@pytest.mark.django_db
def test_swagger_ui_is_served_from_our_own_static_files(api):
    page = api.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    # No asset from another host (a random CSRF token may well contain the letters "cdn").
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)


def test_the_schema_generates_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

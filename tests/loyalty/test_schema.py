import pytest


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
    } <= set(schema["paths"])
    assert schema["paths"]["/api/v1/me"]["get"]["security"] == [{"memberToken": []}]
    assert schema["paths"]["/api/v1/server/members/lookup"]["get"]["security"] == [{"serverSignature": []}]
    assert set(schema["components"]["securitySchemes"]) == {"memberToken", "serverSignature"}


@pytest.mark.django_db
def test_swagger_ui_is_served_from_our_own_static_files(api):
    page = api.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()

"""Teach drf-spectacular how FluenzR authenticates, so the schema documents it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "fluenzr.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "flz_sk_…",
            "description": "A workspace API key from Settings → API keys (Pro plan).",
        }

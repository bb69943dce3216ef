"""The OpenAPI description's infrastructure (drf-spectacular): the Bearer-token scheme and the path hook.

Each API describes its own bodies with its nested Input/Output serializers and `extend_schema` (answers/apis.py,
clinical/apis.py, policies/apis.py, openai/apis.py, retrieval/apis.py), which write the responses too. Served at
/api/schema/ (YAML; ?format=json for JSON) with Swagger UI at /api/docs/ and Redoc at /api/redoc/, both from the
sidecar package (no CDN). This module is imported by config/urls.py, which registers the extension before any schema
is generated.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "assistant.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"
    priority = 1  # over spectacular's own TokenAuthentication scheme, which this class extends

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user's API key (`manage.py drf_create_token USER`), as OpenAI clients send theirs.",
        }


def endpoints_without_optional_slash(endpoints: list[tuple]) -> list[tuple]:
    """Preprocessing hook: the OpenAI routes take an optional trailing slash (`/?$`); the schema names the path
    clients use, without it."""
    return [
        (path.removesuffix("/?").removesuffix("/") if regex.endswith("/?$") else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]

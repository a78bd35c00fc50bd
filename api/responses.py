"""The error responses each route declares in the OpenAPI schema, all shaped as ``ErrorOut``."""

from __future__ import annotations

from typing import Any

from api import examples
from api.schemas.errors import ErrorOut

Responses = dict[int | str, dict[str, Any]]

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before retrying (at least 1)",
        "schema": {"type": "integer", "minimum": 1},
    }
}

INVALID: Responses = {
    422: {
        "model": ErrorOut,
        "description": "A field is invalid; the message names it and says why",
        "content": {"application/json": {"examples": examples.INVALID_EXAMPLES}},
    }
}
UNAUTHORIZED: Responses = {
    401: {
        "model": ErrorOut,
        "description": "API keys are configured and the request has none, or an unknown one",
        **examples.json_content(examples.UNAUTHORIZED),
        "headers": {
            "WWW-Authenticate": {
                "description": "The scheme to use: Bearer",
                "schema": {"type": "string"},
            }
        },
    }
}
FORBIDDEN: Responses = {
    403: {
        "model": ErrorOut,
        "description": "The key has the read scope only; or no key is configured and the client "
        "is not on the engine's machine",
        **examples.json_content(examples.FORBIDDEN),
    }
}
TOO_LARGE: Responses = {
    413: {
        "model": ErrorOut,
        "description": "The body is over ANOMALY_MAX_BODY_BYTES",
        **examples.json_content(examples.TOO_LARGE),
    }
}
RATE_LIMITED: Responses = {
    429: {
        "model": ErrorOut,
        "description": "Over this client's scoring rate (ANOMALY_SCORE_RATE_PER_S, "
        "ANOMALY_SCORE_BURST)",
        "headers": _RETRY_AFTER,
        **examples.json_content(examples.RATE_LIMITED),
    }
}
UNAVAILABLE: Responses = {
    503: {
        "model": ErrorOut,
        "description": "The broker or the owning worker did not answer in time",
        "headers": _RETRY_AFTER,
        **examples.json_content(examples.UNAVAILABLE),
    }
}


def not_found(detail: str, description: str = "No such item") -> Responses:
    """A 404 whose example says ``detail``."""
    return {
        404: {
            "model": ErrorOut,
            "description": description,
            **examples.json_content({"detail": detail}),
        }
    }


NOT_FOUND: Responses = not_found("no configuration for model 'metrics-v9'")

CONFLICT: Responses = {
    409: {
        "model": ErrorOut,
        "description": "The incident is not open any more",
        **examples.json_content(examples.NOT_OPEN),
    }
}

READ: Responses = {**UNAUTHORIZED, **INVALID}
"""Every read endpoint: 401 when keys are configured and none (or an unknown one) is sent."""
WRITE: Responses = {**UNAUTHORIZED, **FORBIDDEN, **INVALID, **UNAVAILABLE}
"""Every endpoint that changes configuration or silences (admin scope)."""

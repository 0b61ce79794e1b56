"""Inbound webhook routes: Shopify (``/integrations/shopify/{slug}``) and any store or CRM speaking
Standard Webhooks (``/integrations/inbound/{slug}``).

Each route reads the raw bytes, verifies the signature with the secrets of the tenant the slug
names (engine.integrations), and only then parses JSON and applies it (engine.inbound). Every
refusal to authenticate (unknown slug, nothing configured, wrong or missing signature, another
tenant's secret) is the same 401, and nothing is written before the signature checks out.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine import inbound, integrations
from engine.errors import DomainError
from engine.models.integrations import IntegrationKind
from engine.tenancy import request_tenant

log = logging.getLogger("cosource.integrations")

SHOPIFY_HMAC = "x-shopify-hmac-sha256"
SHOPIFY_TOPIC = "x-shopify-topic"
SHOPIFY_WEBHOOK_ID = "x-shopify-webhook-id"


def _unauthorized() -> Response:
    return JSONResponse({"error": "invalid signature"}, status_code=401)


def _json(body: bytes) -> dict[str, Any] | Response:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
    if not isinstance(parsed, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    return parsed


def _rejected(error: DomainError) -> Response:
    return JSONResponse(
        {
            "error": "rejected",
            "errors": [
                {"field": e.field, "code": e.code.value, "message": e.message} for e in error.errors
            ],
        },
        status_code=422,
    )


def _done(result: inbound.Result) -> Response:
    return JSONResponse({"status": result.status.value})


async def shopify(request: Request) -> Response:
    body = await request.body()
    tenant = await integrations.tenant_for_slug(request.path_params["slug"])
    if tenant is None:
        return _unauthorized()
    with request_tenant(tenant.id):
        keys = await integrations.verifying_secrets(IntegrationKind.SHOPIFY)
        if not integrations.shopify_signature_valid(keys, body, request.headers.get(SHOPIFY_HMAC)):
            return _unauthorized()
        payload = _json(body)
        if isinstance(payload, Response):
            return payload
        topic = request.headers.get(SHOPIFY_TOPIC, "")
        webhook_id = request.headers.get(SHOPIFY_WEBHOOK_ID, "")
        try:
            change = inbound.shopify_change(topic, payload)
            result = await inbound.apply_once(IntegrationKind.SHOPIFY, webhook_id, topic, change)
        except DomainError as error:
            log.info("shopify webhook %s for %s rejected: %s", webhook_id, tenant.slug, error)
            return _rejected(error)
    return _done(result)


async def standard(request: Request) -> Response:
    body = await request.body()
    tenant = await integrations.tenant_for_slug(request.path_params["slug"])
    if tenant is None:
        return _unauthorized()
    headers = request.headers
    msg_id = headers.get("webhook-id")
    with request_tenant(tenant.id):
        keys = await integrations.verifying_secrets(IntegrationKind.INBOUND)
        if not integrations.standard_signature_valid(
            keys, msg_id, headers.get("webhook-timestamp"), body, headers.get("webhook-signature")
        ):
            return _unauthorized()
        payload = _json(body)
        if isinstance(payload, Response):
            return payload
        topic = str(payload.get("type") or "")
        try:
            change = inbound.generic_change(payload)
            result = await inbound.apply_once(IntegrationKind.INBOUND, msg_id or "", topic, change)
        except DomainError as error:
            return _rejected(error)
    return _done(result)


routes = [
    Route("/integrations/shopify/{slug}", shopify, methods=["POST"]),
    Route("/integrations/inbound/{slug}", standard, methods=["POST"]),
]

"""Payload presets: the same event, shaped for the system an endpoint feeds.

``STANDARD`` is the event as recorded (engine.payloads). ``COMMERCE_PREORDER`` turns an idea event
into a product draft a store can create a pre-order or a Shopify draft order from: title,
description, tags, and the pledged quantity per customer (external id, email where allowed).
``CRM_CONTACTS`` turns it into contacts to upsert by external id and email, each with the tags and
properties to set ("supported idea X", "pledged N"). Events that concern no idea (campaign,
member, endpoint and test events) are sent in the STANDARD shape whatever the preset.

Shaping runs at send time from the stored event, after emails were stripped for endpoints that may
not see them, so retries send the same bytes. Every body stays under 20 kB: lists of customers are
halved until it fits and ``truncated`` says so, with the full count beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from webhooks.models import PayloadPreset

# Leave room for the envelope around ``data`` (type, timestamp, preset).
_DATA_BUDGET = 19_000
_TAG = re.compile(r"[^a-z0-9]+")


def _tag(*parts: str) -> str:
    return "cosource-" + "-".join(_TAG.sub("-", p.lower()).strip("-") for p in parts if p)


def _customer(ref: dict[str, Any]) -> dict[str, Any]:
    out = {"externalId": ref.get("externalId"), "displayName": ref.get("displayName")}
    if "email" in ref:
        out["email"] = ref["email"]
    return out


def _idea_summary(idea: dict[str, Any]) -> dict[str, Any]:
    campaign = idea.get("campaign") or {}
    return {
        "id": idea.get("id"),
        "title": idea.get("title"),
        "status": idea.get("status"),
        "campaign": {"slug": campaign.get("slug"), "title": campaign.get("title")},
    }


def _fit(data: dict[str, Any], key: str) -> dict[str, Any]:
    """Halve ``data[key]`` until the JSON fits the budget; mark it truncated when cut."""
    while len(orjson.dumps(data)) > _DATA_BUDGET and data[key]:
        data[key] = data[key][: len(data[key]) // 2]
        data["truncated"] = True
    return data


def commerce_preorder(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    idea = data["idea"]
    counts = data.get("counts") or idea.get("counts") or {}
    campaign = idea.get("campaign") or {}
    tags = [_tag("campaign", campaign.get("slug", "")), _tag("status", idea.get("status", ""))]
    threshold = data.get("threshold")
    if threshold:
        tags.append(_tag("threshold", threshold.get("name") or threshold.get("metric", "")))
    lines = [
        {"customer": _customer(p), "quantity": p["quantity"]} for p in data.get("pledges") or []
    ]
    shaped: dict[str, Any] = {
        "product": {
            "title": idea.get("title"),
            "description": idea.get("body"),
            "descriptionTruncated": bool(idea.get("bodyTruncated")),
            "tags": ["cosource", *tags],
            "sourceIdea": _idea_summary(idea),
        },
        "preorder": {
            "totalQuantity": counts.get("pledgedQuantity", 0),
            "customers": counts.get("pledgers", 0),
        },
        "lines": lines,
        # Lines are carried by idea.threshold_reached only; other events say how many exist.
        "linesTotal": data.get("pledgesTotal", len(lines)) if "pledges" in data else 0,
        "truncated": bool(data.get("truncated")),
    }
    if threshold:
        shaped["threshold"] = threshold
    return _fit(shaped, "lines")


def crm_contacts(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    idea = data["idea"]
    summary = _idea_summary(idea)
    idea_tag = _tag("supported", str(idea.get("title", ""))[:40])
    contacts: dict[str, dict[str, Any]] = {}

    def contact(ref: dict[str, Any]) -> dict[str, Any]:
        key = str(ref.get("externalId"))
        if key not in contacts:
            contacts[key] = {**_customer(ref), "tags": [], "properties": {}}
        return contacts[key]

    for ref in data.get("supporters") or []:
        c = contact(ref)
        c["tags"].append(idea_tag)
        c["properties"]["cosourceSupportedIdea"] = idea.get("title")
        c["properties"]["cosourceSupportedIdeaId"] = idea.get("id")
    for ref in data.get("pledges") or []:
        c = contact(ref)
        c["tags"].append(_tag("pledged"))
        c["properties"]["cosourcePledgedQuantity"] = ref.get("quantity", 0)
        c["properties"].setdefault("cosourceSupportedIdea", idea.get("title"))
        c["properties"].setdefault("cosourceSupportedIdeaId", idea.get("id"))
    if not contacts and idea.get("author"):
        c = contact(idea["author"])
        c["tags"].append(_tag("author"))
        c["properties"]["cosourceIdea"] = idea.get("title")
        c["properties"]["cosourceIdeaStatus"] = idea.get("status")
    for c in contacts.values():
        c["tags"] = sorted(set(c["tags"]))
    listed = list(contacts.values())
    total = max(len(listed), int(data.get("supportersTotal") or 0))
    shaped = {
        "idea": summary,
        "contacts": listed,
        "contactsTotal": total,
        "truncated": bool(data.get("truncated")),
    }
    return _fit(shaped, "contacts")


_SHAPERS: dict[PayloadPreset, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    PayloadPreset.COMMERCE_PREORDER: commerce_preorder,
    PayloadPreset.CRM_CONTACTS: crm_contacts,
}


def shape(preset: PayloadPreset | str, event_type: str, data: dict[str, Any]) -> tuple[str, Any]:
    """The preset actually applied (STANDARD for events without an idea) and the shaped data."""
    preset = PayloadPreset(preset)
    shaper = _SHAPERS.get(preset)
    if shaper is None or not isinstance(data.get("idea"), dict):
        return PayloadPreset.STANDARD.value, data
    return preset.value, shaper(event_type, data)

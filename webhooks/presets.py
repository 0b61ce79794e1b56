"""Payload presets: the same event, shaped for the system an endpoint feeds.

``STANDARD`` is the event as recorded (engine.payloads). ``COMMERCE_PREORDER`` shapes what a store
acts on: a product draft per idea (title, description, tags, the pledged quantity per customer)
and what to do with it (``action``: draft, open a pre-order, update, cancel, fulfil, merge), and
the winning ideas' drafts when a campaign closes. ``CRM_CONTACTS`` shapes contacts to upsert by
external id and email, each with the tags and properties to set: an idea's supporters and
pledgers, its author, a campaign's winners, a member whose level or badges changed.

Each preset lists the event types it shapes (:data:`SHAPED`, documented per type in the README).
Any other event goes out in the STANDARD shape, marked ``"preset": "STANDARD"`` so a receiver
configured for a preset can tell it apart; a STANDARD endpoint's bodies carry no ``preset``.

Shaping runs at send time from the stored event, after emails were stripped for endpoints that may
not see them, so retries send the same bytes. Every body stays under 20 kB: lists are halved until
it fits and ``truncated`` says so, with the full count beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from webhooks.models import PayloadPreset

# Leave room for the envelope around ``data`` (type, timestamp, preset).
_DATA_BUDGET = 19_000
_NOTE_MAX = 500
_TAG = re.compile(r"[^a-z0-9]+")

Data = dict[str, Any]
Shaper = Callable[[str, Data], Data]


def _tag(*parts: str) -> str:
    return "cosource-" + "-".join(
        t for t in (_TAG.sub("-", str(p).lower()).strip("-") for p in parts) if t
    )


def _customer(ref: Data) -> Data:
    out = {"externalId": ref.get("externalId"), "displayName": ref.get("displayName")}
    if "email" in ref:
        out["email"] = ref["email"]
    return out


def _idea_summary(idea: Data) -> Data:
    campaign = idea.get("campaign") or {}
    return {
        "id": idea.get("id"),
        "title": idea.get("title"),
        "status": idea.get("status"),
        "campaign": {"slug": campaign.get("slug"), "title": campaign.get("title")},
    }


def _campaign_summary(campaign: Data) -> Data:
    return {"id": campaign.get("id"), "slug": campaign.get("slug"), "title": campaign.get("title")}


def _fit(data: Data, key: str) -> Data:
    """Halve ``data[key]`` until the JSON fits the budget; mark it truncated when cut."""
    while len(orjson.dumps(data)) > _DATA_BUDGET and data[key]:
        data[key] = data[key][: len(data[key]) // 2]
        data["truncated"] = True
    return data


# --- COMMERCE_PREORDER -------------------------------------------------------------------------

# What a store does with the product draft, per idea status (idea.status_changed, idea.responded).
_STATUS_ACTIONS = {"DECLINED": "cancel", "SHIPPED": "fulfil"}


def _product(idea: Data, threshold: Data | None = None) -> Data:
    campaign = idea.get("campaign") or {}
    tags = [_tag("campaign", campaign.get("slug", "")), _tag("status", idea.get("status", ""))]
    if threshold:
        tags.append(_tag("threshold", threshold.get("name") or threshold.get("metric", "")))
    return {
        "title": idea.get("title"),
        "description": idea.get("body"),
        "descriptionTruncated": bool(idea.get("bodyTruncated")),
        "tags": ["cosource", *tags],
        "sourceIdea": _idea_summary(idea),
    }


def _preorder(idea: Data, counts: Data | None = None) -> Data:
    counts = counts or idea.get("counts") or {}
    return {
        "totalQuantity": counts.get("pledgedQuantity", 0),
        "customers": counts.get("pledgers", 0),
    }


def _action(event_type: str, idea: Data) -> str:
    if event_type == "idea.created":
        return "draft"
    if event_type == "idea.threshold_reached":
        return "open_preorder"
    if event_type == "idea.merged":
        return "merge"
    return _STATUS_ACTIONS.get(str(idea.get("status")), "update")


def commerce_preorder(event_type: str, data: Data) -> Data:
    """One idea's product draft; the pledge lines ride on idea.threshold_reached."""
    idea = data["idea"]
    threshold = data.get("threshold") if event_type == "idea.threshold_reached" else None
    lines = [
        {"customer": _customer(p), "quantity": p["quantity"]} for p in data.get("pledges") or []
    ]
    shaped: Data = {
        "action": _action(event_type, idea),
        "product": _product(idea, threshold),
        "preorder": _preorder(idea, data.get("counts")),
        "lines": lines,
        # Lines are carried by idea.threshold_reached only; other events say how many exist.
        "linesTotal": data.get("pledgesTotal", len(lines)) if "pledges" in data else 0,
        "truncated": bool(data.get("truncated")),
    }
    if threshold:
        shaped["threshold"] = threshold
    if event_type == "idea.merged" and isinstance(data.get("into"), dict):
        # The store moves this draft's pre-order onto the target's draft.
        shaped["mergedInto"] = _idea_summary(data["into"])
    return _fit(shaped, "lines")


def winning_products(event_type: str, data: Data) -> Data:
    """campaign.closed: a product draft per winning idea, best first."""
    products = [
        {
            "rank": w.get("rank"),
            "product": _product(w["idea"]),
            "preorder": _preorder(w["idea"]),
        }
        for w in data.get("winners") or []
        if isinstance(w.get("idea"), dict)
    ]
    shaped: Data = {
        "action": "winners",
        "campaign": _campaign_summary(data["campaign"]),
        "products": products,
        "productsTotal": len(products),
        "truncated": False,
    }
    return _fit(shaped, "products")


# --- CRM_CONTACTS ------------------------------------------------------------------------------


class _Contacts:
    """Contacts keyed by external id, each listed once however many roles it has."""

    def __init__(self) -> None:
        self.by_id: dict[str, Data] = {}

    def add(self, ref: Data, tag: str, **properties: Any) -> None:
        key = str(ref.get("externalId"))
        contact = self.by_id.get(key)
        if contact is None:
            contact = self.by_id[key] = {**_customer(ref), "tags": [], "properties": {}}
        elif "email" in ref and "email" not in contact:
            contact["email"] = ref["email"]
        contact["tags"].append(tag)
        for name, value in properties.items():
            contact["properties"].setdefault(name, value)

    def listed(self) -> list[Data]:
        for contact in self.by_id.values():
            contact["tags"] = sorted(set(contact["tags"]))
        return list(self.by_id.values())


def _crm(about: Data, contacts: _Contacts, total: int, truncated: bool) -> Data:
    listed = contacts.listed()
    shaped = {
        **about,
        "contacts": listed,
        "contactsTotal": max(len(listed), total),
        "truncated": truncated,
    }
    return _fit(shaped, "contacts")


def supporter_contacts(event_type: str, data: Data) -> Data:
    """idea.threshold_reached: every supporter and pledger, tagged with the idea."""
    idea = data["idea"]
    title, idea_id = idea.get("title"), idea.get("id")
    supported = _tag("supported", str(title or "")[:40])
    contacts = _Contacts()
    for ref in data.get("supporters") or []:
        contacts.add(ref, supported, cosourceSupportedIdea=title, cosourceSupportedIdeaId=idea_id)
    for ref in data.get("pledges") or []:
        contacts.add(
            ref,
            _tag("pledged"),
            cosourcePledgedQuantity=ref.get("quantity", 0),
            cosourceSupportedIdea=title,
            cosourceSupportedIdeaId=idea_id,
        )
    if not contacts.by_id and idea.get("author"):
        contacts.add(idea["author"], _tag("author"), cosourceIdea=title)
    return _crm(
        {"idea": _idea_summary(idea)},
        contacts,
        int(data.get("supportersTotal") or 0),
        bool(data.get("truncated")),
    )


def author_contact(event_type: str, data: Data) -> Data:
    """idea.created, idea.status_changed, idea.responded, idea.merged: the idea's author."""
    idea = data["idea"]
    # idea.responded carries the author with an email (a CRM tells the author); the others the
    # author as the idea shows it.
    author = data.get("author") if isinstance(data.get("author"), dict) else idea.get("author")
    properties: Data = {"cosourceIdea": idea.get("title"), "cosourceIdeaStatus": idea.get("status")}
    response = data.get("response")
    if event_type == "idea.responded" and isinstance(response, dict):
        properties["cosourceResponseNote"] = str(response.get("note") or "")[:_NOTE_MAX]
    if event_type == "idea.merged" and isinstance(data.get("into"), dict):
        properties["cosourceIdeaMergedInto"] = data["into"].get("title")
    contacts = _Contacts()
    if isinstance(author, dict):
        contacts.add(author, _tag("author"), **properties)
    return _crm({"idea": _idea_summary(idea)}, contacts, 0, False)


def winner_contacts(event_type: str, data: Data) -> Data:
    """campaign.closed: the winning ideas' authors, with the rank and idea they won with."""
    campaign = data["campaign"]
    contacts = _Contacts()
    for w in data.get("winners") or []:
        author = w.get("author") or (w.get("idea") or {}).get("author")
        if isinstance(author, dict):
            contacts.add(
                author,
                _tag("winner", campaign.get("slug", "")),
                cosourceWinningIdea=(w.get("idea") or {}).get("title"),
                cosourceWinnerRank=w.get("rank"),
                cosourceCampaignWon=campaign.get("title"),
            )
    return _crm({"campaign": _campaign_summary(campaign)}, contacts, 0, False)


def member_contact(event_type: str, data: Data) -> Data:
    """member.level_changed and member.badge_awarded: the member, with level or badge."""
    member = data["member"]
    contacts = _Contacts()
    if event_type == "member.level_changed":
        level = data.get("level") or {}
        contacts.add(
            member,
            _tag("level", str(level.get("name") or level.get("number", ""))),
            cosourceLevel=level.get("number"),
            cosourceLevelName=level.get("name"),
            cosourceReputation=data.get("reputation"),
        )
    else:
        badge = data.get("badge") or {}
        contacts.add(
            member,
            _tag("badge", str(badge.get("code", ""))),
            cosourceLastBadge=badge.get("name"),
            cosourceLastBadgeCode=badge.get("code"),
        )
    return _crm({"member": {"id": member.get("id")}}, contacts, 0, False)


_IDEA_EVENTS = ("idea.created", "idea.status_changed", "idea.responded", "idea.merged")

# The event types each preset shapes, and how; every other type is sent as STANDARD, marked.
SHAPED: dict[PayloadPreset, dict[str, Shaper]] = {
    PayloadPreset.COMMERCE_PREORDER: {
        **dict.fromkeys(_IDEA_EVENTS, commerce_preorder),
        "idea.threshold_reached": commerce_preorder,
        "campaign.closed": winning_products,
    },
    PayloadPreset.CRM_CONTACTS: {
        **dict.fromkeys(_IDEA_EVENTS, author_contact),
        "idea.threshold_reached": supporter_contacts,
        "campaign.closed": winner_contacts,
        "member.level_changed": member_contact,
        "member.badge_awarded": member_contact,
    },
}
# What each shaper needs in the event's data; an event without it is sent as STANDARD.
_NEEDS: dict[Shaper, str] = {
    winning_products: "campaign",
    winner_contacts: "campaign",
    member_contact: "member",
}


def shape(preset: PayloadPreset | str, event_type: str, data: Data) -> tuple[str | None, Any]:
    """The ``preset`` mark for the body (None: unmarked, a STANDARD endpoint) and its data."""
    preset = PayloadPreset(preset)
    if preset == PayloadPreset.STANDARD:
        return None, data
    shaper = SHAPED[preset].get(event_type)
    if shaper is None or not isinstance(data.get(_NEEDS.get(shaper, "idea")), dict):
        return PayloadPreset.STANDARD.value, data
    return preset.value, shaper(event_type, data)

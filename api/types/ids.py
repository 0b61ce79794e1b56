"""Reading global ids from input: a wrong or foreign id is "not found" on that field, never a crash."""

from __future__ import annotations

from strawberry.relay import GlobalID, GlobalIDValueError

from engine.errors import NotFound


def decode_id(value: str | GlobalID, type_name: str, field: str) -> int:
    try:
        gid = value if isinstance(value, GlobalID) else GlobalID.from_id(value)
        if gid.type_name != type_name:
            raise ValueError(gid.type_name)
        pk = int(gid.node_id)
        if pk <= 0 or pk >= 2**63:
            raise ValueError(pk)
    except (GlobalIDValueError, ValueError, TypeError) as exc:
        raise NotFound(type_name.lower(), field) from exc
    return pk


def encode_id(type_name: str, pk: int) -> str:
    return str(GlobalID(type_name=type_name, node_id=str(pk)))

"""Members: created once even when first requests race; only changed fields are written."""

from __future__ import annotations

import asyncio

import pytest

from engine.errors import DomainError, ErrorCode
from engine.members import MemberData, upsert_member
from engine.models import Member


async def test_racing_first_requests_create_one_member(tenant) -> None:
    results = await asyncio.gather(
        *(upsert_member(MemberData("cus_race", display_name="Ada")) for _ in range(8))
    )
    assert len({m.id for m in results}) == 1
    assert await Member.filter(external_id="cus_race").count() == 1


async def test_update_only_what_is_given(tenant) -> None:
    await upsert_member(
        MemberData("cus_1", display_name="Ada", email="ada@example.com", tier="gold")
    )
    member = await upsert_member(MemberData("cus_1", verified=True))
    assert (member.display_name, member.email, member.tier, member.verified) == (
        "Ada",
        "ada@example.com",
        "gold",
        True,
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (MemberData(""), "externalId"),
        (MemberData("x" * 201), "externalId"),
        (MemberData("cus_2", email="not-an-email"), "email"),
        (MemberData("cus_3", customer_value_cents=-5), "customerValueCents"),
    ],
)
async def test_invalid_member_data(tenant, data, field) -> None:
    with pytest.raises(DomainError) as caught:
        await upsert_member(data)
    assert caught.value.errors[0].field == field
    assert caught.value.code in {
        ErrorCode.REQUIRED,
        ErrorCode.TOO_LONG,
        ErrorCode.INVALID,
        ErrorCode.OUT_OF_RANGE,
    }

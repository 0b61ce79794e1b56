"""The checked-in schema.graphql is exactly what the code exports (CI fails on drift)."""

from __future__ import annotations

from pathlib import Path

from api.schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_schema_matches_the_code() -> None:
    checked_in = (ROOT / "schema.graphql").read_text()
    assert checked_in == export_sdl(), "schema.graphql is stale: run `make schema` and commit"


def test_schema_names_the_design_contract() -> None:
    sdl = export_sdl()
    for name in (
        "interface Node",
        "type PageInfo",
        "totalCount: Int!",
        "userErrors: [UserError!]!",
        "enum IdeaOrder",
        "submitIdea(",
        "vote(",
        "scoreIdea(",
        "pledge(",
        "comment(",
        "createCampaign(",
        "updateCampaign(",
        "setCampaignStatus(",
        "setIdeaStatus(",
        "upsertMember(",
        "issueMemberToken(",
        "mergeIdea(",
        "unmergeIdea(",
        "leaderboard(",
        "updateReputationRules(",
        "awardBadge(",
        "viewer:",
        "campaigns(",
        "ideas(",
        "node(id: ID!)",
    ):
        assert name in sdl, name

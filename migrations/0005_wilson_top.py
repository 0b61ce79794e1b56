"""Data migration: TOP in IDEAS campaigns became the Wilson lower bound of the upvote share
(engine.ranking.top_rank); recompute the stored sort key of every existing IDEAS idea."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from engine.ranking import wilson_lower_bound

_SELECT = (
    "SELECT i.id, i.upvotes, i.downvotes FROM idea i JOIN campaign c ON c.id = i.campaign_id "
    "WHERE c.mode = 'IDEAS'"
)


async def recompute_top(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    update = (
        "UPDATE idea SET top_rank = $1 WHERE id = $2"
        if postgres
        else "UPDATE idea SET top_rank = ? WHERE id = ?"
    )
    _, rows = await client.execute_query(_SELECT)
    values = [[round(wilson_lower_bound(r["upvotes"], r["downvotes"]), 9), r["id"]] for r in rows]
    if values:
        await client.execute_many(update, values)


class Migration(migrations.Migration):
    dependencies = [("models", "0004_exposure")]

    initial = False

    operations = [ops.RunPython(recompute_top, ops.RunPython.noop)]

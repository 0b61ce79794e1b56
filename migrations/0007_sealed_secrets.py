from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.sealed import PREFIX, SealedField, seal

# Rows written before sealing hold plain secrets: seal them in place.
_COLUMNS = (
    ("tenant", "identity_secret"),
    ("webhook_endpoint", "secret"),
    ("webhook_endpoint", "previous_secret"),
)


async def seal_existing(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for table, column in _COLUMNS:
        _, rows = await client.execute_query(
            f"SELECT id, {column} AS value FROM {table} WHERE {column} IS NOT NULL"
        )
        values = [[seal(r["value"]), r["id"]] for r in rows if not r["value"].startswith(PREFIX)]
        if values:
            place = ("$1", "$2") if postgres else ("?", "?")
            await client.execute_many(
                f"UPDATE {table} SET {column} = {place[0]} WHERE id = {place[1]}", values
            )

class Migration(migrations.Migration):
    dependencies = [('models', '0006_audit')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Tenant',
            name='identity_secret',
            field=SealedField(unique=False),
        ),
        ops.AlterField(
            model_name='WebhookEndpoint',
            name='previous_secret',
            field=SealedField(null=True, unique=False),
        ),
        ops.AlterField(
            model_name='WebhookEndpoint',
            name='secret',
            field=SealedField(unique=False),
        ),
        ops.RunPython(seal_existing, ops.RunPython.noop),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.indexes import WhereIndex


class Migration(migrations.Migration):
    dependencies = [("models", "0015_console_invites")]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name="DomainEvent",
            name=None,
            fields=["processed_at", "id"],
        ),
        ops.AddIndex(
            model_name="DomainEvent",
            index=WhereIndex(
                fields=["id"], name="domain_event_pending", where="processed_at IS NULL"
            ),
        ),
    ]

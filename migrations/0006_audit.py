from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_wilson_top')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor_kind', fields.CharField(max_length=16)),
                ('actor_id', fields.CharField(max_length=64)),
                ('actor_label', fields.CharField(default='', max_length=120)),
                ('operation', fields.CharField(default='', max_length=120)),
                ('fields_run', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('target_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('succeeded', fields.BooleanField(default=True)),
                ('error_codes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=200)),
                ('request_id', fields.CharField(default='', max_length=80)),
                ('data', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_entry', 'app': 'models', 'indexes': [Index(fields=['tenant_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One secret-key (or console) mutation, written after it ran and kept for a year.'},
            bases=['TenantModel'],
        ),
    ]

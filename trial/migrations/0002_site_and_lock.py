# Sites and the freeze/lock log, whose tables participants.0002 and exports.0003 renamed,
# become this app's models (state only: the rows are not touched).

import django.db.models.deletion
import pghistory.utils
from django.conf import settings
from django.db import migrations, models


def move_content_types(apps, schema_editor, moves):
    """The models' content types (and so their permissions and admin log entries) follow
    them to the new app, instead of new ones being created beside stale ones."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for old_app, model, new_app in moves:
        if not ContentType.objects.filter(app_label=new_app, model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label=new_app)


MOVES = [('participants', 'site', 'trial'), ('participants', 'siteevent', 'trial'), ('exports', 'datasetlock', 'trial'), ('exports', 'datasetlockevent', 'trial'), ('imrtrial', 'roleassignment', 'trial'), ('imrtrial', 'roleassignmentevent', 'trial')]


class Migration(migrations.Migration):

    dependencies = [
        ('trial', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('participants', '0002_site_moves_to_trial'),
        ('exports', '0003_lock_moves_to_trial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Site',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.CharField(max_length=3, unique=True)),
                        ('name', models.CharField(max_length=100)),
                        ('number', models.PositiveSmallIntegerField(help_text='SITE code in datasets', unique=True)),
                        ('next_participant_number', models.PositiveIntegerField(default=1)),
                    ],
                    options={
                        'ordering': ['number'],
                    },
                ),
                migrations.CreateModel(
                    name='SiteEvent',
                    fields=[
                        ('pgh_id', models.AutoField(primary_key=True, serialize=False)),
                        ('pgh_created_at', models.DateTimeField(auto_now_add=True)),
                        ('pgh_label', models.TextField(help_text='The event label.')),
                        ('pgh_context', pghistory.utils.JSONField(null=True)),
                        ('pgh_context_id', models.UUIDField(null=True)),
                        ('id', models.BigIntegerField()),
                        ('code', models.CharField(max_length=3)),
                        ('name', models.CharField(max_length=100)),
                        ('number', models.PositiveSmallIntegerField(help_text='SITE code in datasets')),
                        ('next_participant_number', models.PositiveIntegerField(default=1)),
                        ('pgh_obj', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='trial.site')),
                    ],
                    options={
                        'abstract': False,
                    },
                ),
                migrations.CreateModel(
                    name='DatasetLock',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('level', models.CharField(choices=[('open', 'Open'), ('freeze', 'Frozen'), ('lock', 'Locked')], max_length=6)),
                        ('reason', models.TextField()),
                        ('set_at', models.DateTimeField(auto_now_add=True)),
                        ('open_queries_override', models.BooleanField(default=False, help_text='Locked although queries were open (with the reason above)')),
                        ('open_queries', models.PositiveIntegerField(blank=True, help_text='Queries still open when the state was set', null=True)),
                        ('set_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['-id'],
                        'get_latest_by': 'id',
                    },
                ),
                migrations.CreateModel(
                    name='DatasetLockEvent',
                    fields=[
                        ('pgh_id', models.AutoField(primary_key=True, serialize=False)),
                        ('pgh_created_at', models.DateTimeField(auto_now_add=True)),
                        ('pgh_label', models.TextField(help_text='The event label.')),
                        ('pgh_context', pghistory.utils.JSONField(null=True)),
                        ('pgh_context_id', models.UUIDField(null=True)),
                        ('id', models.BigIntegerField()),
                        ('level', models.CharField(choices=[('open', 'Open'), ('freeze', 'Frozen'), ('lock', 'Locked')], max_length=6)),
                        ('reason', models.TextField()),
                        ('set_at', models.DateTimeField(auto_now_add=True)),
                        ('open_queries_override', models.BooleanField(default=False, help_text='Locked although queries were open (with the reason above)')),
                        ('open_queries', models.PositiveIntegerField(blank=True, help_text='Queries still open when the state was set', null=True)),
                        ('pgh_obj', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='trial.datasetlock')),
                        ('set_by', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'abstract': False,
                    },
                ),
            ],
        ),
        migrations.RunPython(
            lambda apps, schema_editor: move_content_types(apps, schema_editor, MOVES),
            migrations.RunPython.noop,
        ),
    ]

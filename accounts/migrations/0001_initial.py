# The security log, API tokens and the audit of staff accounts, which lived in the former
# `imrtrial` app: their tables exist (trial.0001, which replaces imrtrial's migrations), so
# this migration only declares them as this app's models; 0002 renames the tables and moves
# the triggers.

import django.contrib.auth.models
import django.contrib.auth.validators
import django.db.models.deletion
import django.utils.timezone
import pghistory.utils
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


def move_content_types(apps, schema_editor, moves):
    """The models' content types (and so their permissions and admin log entries) follow
    them to the new app, instead of new ones being created beside stale ones."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for old_app, model, new_app in moves:
        if not ContentType.objects.filter(app_label=new_app, model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label=new_app)


MOVES = [('imrtrial', 'authevent', 'accounts'), ('imrtrial', 'apitoken', 'accounts'), ('imrtrial', 'staffaccount', 'accounts'), ('imrtrial', 'staffaccountevent', 'accounts')]


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('trial', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='AuthEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('login', 'Logged in'), ('logout', 'Logged out'), ('login_failed', 'Failed login'), ('locked_out', 'Locked out'), ('token_issued', 'API token issued'), ('otp_failed', 'Wrong or missing second factor'), ('otp_device_added', 'Two-factor device enrolled'), ('otp_verified', 'Second factor verified'), ('otp_device_reset', 'Two-factor device removed by an administrator'), ('token_revoked', 'API token revoked'), ('password_changed', 'Password changed'), ('unlocked', 'Lockout lifted by an administrator')], max_length=20)),
                        ('username', models.CharField(max_length=150)),
                        ('at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                        ('channel', models.CharField(default='web', max_length=20)),
                        ('detail', models.CharField(blank=True, max_length=200)),
                        ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'imrtrial_authevent',
                        'ordering': ['-at'],
                    },
                ),
                pgtrigger.migrations.AddTrigger(
                    model_name='authevent',
                    trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='75edf6c9d8271f32832e5fb1832d6babab2ad0ee', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_74a32', table='imrtrial_authevent', when='BEFORE')),
                ),
                migrations.CreateModel(
                    name='StaffAccount',
                    fields=[
                    ],
                    options={
                        'verbose_name': 'staff account',
                        'proxy': True,
                        'indexes': [],
                        'constraints': [],
                    },
                    bases=('auth.user',),
                    managers=[
                        ('objects', django.contrib.auth.models.UserManager()),
                    ],
                ),
                migrations.CreateModel(
                    name='ApiToken',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('digest', models.CharField(max_length=64, unique=True)),
                        ('prefix', models.CharField(help_text='First characters of the key, to recognise it', max_length=8)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('expires_at', models.DateTimeField()),
                        ('last_used_at', models.DateTimeField()),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'imrtrial_apitoken',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='StaffAccountEvent',
                    fields=[
                        ('pgh_id', models.AutoField(primary_key=True, serialize=False)),
                        ('pgh_created_at', models.DateTimeField(auto_now_add=True)),
                        ('pgh_label', models.TextField(help_text='The event label.')),
                        ('pgh_context', pghistory.utils.JSONField(null=True)),
                        ('pgh_context_id', models.UUIDField(null=True)),
                        ('id', models.IntegerField()),
                        ('is_superuser', models.BooleanField(default=False, help_text='Designates that this user has all permissions without explicitly assigning them.', verbose_name='superuser status')),
                        ('username', models.CharField(error_messages={'unique': 'A user with that username already exists.'}, help_text='Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.', max_length=150, validators=[django.contrib.auth.validators.UnicodeUsernameValidator()], verbose_name='username')),
                        ('first_name', models.CharField(blank=True, max_length=150, verbose_name='first name')),
                        ('last_name', models.CharField(blank=True, max_length=150, verbose_name='last name')),
                        ('email', models.EmailField(blank=True, max_length=254, verbose_name='email address')),
                        ('is_staff', models.BooleanField(default=False, help_text='Designates whether the user can log into this admin site.', verbose_name='staff status')),
                        ('is_active', models.BooleanField(default=True, help_text='Designates whether this user should be treated as active. Unselect this instead of deleting accounts.', verbose_name='active')),
                        ('date_joined', models.DateTimeField(default=django.utils.timezone.now, verbose_name='date joined')),
                        ('pgh_obj', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='accounts.staffaccount')),
                    ],
                    options={
                        'db_table': 'imrtrial_staffaccountevent',
                        'abstract': False,
                    },
                ),
                pgtrigger.migrations.AddTrigger(
                    model_name='staffaccount',
                    trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "imrtrial_staffaccountevent" ("date_joined", "email", "first_name", "id", "is_active", "is_staff", "is_superuser", "last_name", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "username") VALUES (NEW."date_joined", NEW."email", NEW."first_name", NEW."id", NEW."is_active", NEW."is_staff", NEW."is_superuser", NEW."last_name", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'insert\', NEW."id", NEW."username"); RETURN NULL;', hash='79d6f287ffc9b89e8203309ff2affc7710827acf', operation='INSERT', pgid='pgtrigger_insert_insert_f635e', table='auth_user', when='AFTER')),
                ),
                pgtrigger.migrations.AddTrigger(
                    model_name='staffaccount',
                    trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD."date_joined" IS DISTINCT FROM (NEW."date_joined") OR OLD."email" IS DISTINCT FROM (NEW."email") OR OLD."first_name" IS DISTINCT FROM (NEW."first_name") OR OLD."id" IS DISTINCT FROM (NEW."id") OR OLD."is_active" IS DISTINCT FROM (NEW."is_active") OR OLD."is_staff" IS DISTINCT FROM (NEW."is_staff") OR OLD."is_superuser" IS DISTINCT FROM (NEW."is_superuser") OR OLD."last_name" IS DISTINCT FROM (NEW."last_name") OR OLD."username" IS DISTINCT FROM (NEW."username"))', func='INSERT INTO "imrtrial_staffaccountevent" ("date_joined", "email", "first_name", "id", "is_active", "is_staff", "is_superuser", "last_name", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "username") VALUES (NEW."date_joined", NEW."email", NEW."first_name", NEW."id", NEW."is_active", NEW."is_staff", NEW."is_superuser", NEW."last_name", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'update\', NEW."id", NEW."username"); RETURN NULL;', hash='fcdef2ad41dce609e329288742719272e7d7724c', operation='UPDATE', pgid='pgtrigger_update_update_1d50f', table='auth_user', when='AFTER')),
                ),
                pgtrigger.migrations.AddTrigger(
                    model_name='staffaccount',
                    trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "imrtrial_staffaccountevent" ("date_joined", "email", "first_name", "id", "is_active", "is_staff", "is_superuser", "last_name", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "username") VALUES (OLD."date_joined", OLD."email", OLD."first_name", OLD."id", OLD."is_active", OLD."is_staff", OLD."is_superuser", OLD."last_name", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'delete\', OLD."id", OLD."username"); RETURN NULL;', hash='be67e625533a78fbb0e2495496966d74edf01efc', operation='DELETE', pgid='pgtrigger_delete_delete_07365', table='auth_user', when='AFTER')),
                ),
                migrations.AddIndex(
                    model_name='apitoken',
                    index=models.Index(fields=['user', 'revoked_at'], name='token_user_revoked'),
                ),
                pgtrigger.migrations.AddTrigger(
                    model_name='staffaccountevent',
                    trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='20d00f49322ec50ecb9312137db9887d88e7f267', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_1bd1a', table='imrtrial_staffaccountevent', when='BEFORE')),
                ),
            ],
        ),
        migrations.RunPython(
            lambda apps, schema_editor: move_content_types(apps, schema_editor, MOVES),
            migrations.RunPython.noop,
        ),
    ]

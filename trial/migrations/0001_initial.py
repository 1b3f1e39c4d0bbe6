# The first migrations of the former `imrtrial` app (imrtrial.0001_initial and
# imrtrial.0002_tokens_staff_audit), which the `trial` app replaces: a database migrated
# before the split has them recorded as applied, so this one counts as applied too; a new
# database runs it. Either way the tables keep their old names here and are renamed by the
# apps that now own them (trial.0002 for the roles, accounts.0002 for the security log,
# tokens and account audit), so both reach the same schema. The accounts models are
# created for the database only: their state is declared by accounts.0001.

import django.contrib.auth.models
import django.contrib.auth.validators
import django.db.models.deletion
import django.utils.timezone
import pghistory.utils
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [
        ("imrtrial", "0001_initial"),
        ("imrtrial", "0002_tokens_staff_audit"),
    ]

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('participants', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RoleAssignment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('coordinator', 'Coordinator'), ('assessor', 'Assessor'), ('clinician', 'Clinician'), ('instructor', 'IMR instructor'), ('fidelity_rater', 'Fidelity rater'), ('data_manager', 'Data manager'), ('statistician', 'Statistician'), ('monitor', 'Monitor'), ('admin', 'Administrator')], max_length=20)),
                ('granted_at', models.DateTimeField(auto_now_add=True)),
                ('site', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='participants.site')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='role_assignments', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'imrtrial_roleassignment',
                'ordering': ['user_id', 'role', 'site_id'],
            },
        ),
        migrations.CreateModel(
            name='RoleAssignmentEvent',
            fields=[
                ('pgh_id', models.AutoField(primary_key=True, serialize=False)),
                ('pgh_created_at', models.DateTimeField(auto_now_add=True)),
                ('pgh_label', models.TextField(help_text='The event label.')),
                ('pgh_context', pghistory.utils.JSONField(null=True)),
                ('pgh_context_id', models.UUIDField(null=True)),
                ('id', models.BigIntegerField()),
                ('role', models.CharField(choices=[('coordinator', 'Coordinator'), ('assessor', 'Assessor'), ('clinician', 'Clinician'), ('instructor', 'IMR instructor'), ('fidelity_rater', 'Fidelity rater'), ('data_manager', 'Data manager'), ('statistician', 'Statistician'), ('monitor', 'Monitor'), ('admin', 'Administrator')], max_length=20)),
                ('granted_at', models.DateTimeField(auto_now_add=True)),
                ('pgh_obj', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='trial.roleassignment')),
                ('site', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='participants.site')),
                ('user', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'imrtrial_roleassignmentevent',
                'abstract': False,
            },
        ),
        migrations.AddConstraint(
            model_name='roleassignment',
            constraint=models.UniqueConstraint(fields=('user', 'role', 'site'), name='one_assignment_per_role_and_site', nulls_distinct=False),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='roleassignment',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "imrtrial_roleassignmentevent" ("granted_at", "id", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "role", "site_id", "user_id") VALUES (NEW."granted_at", NEW."id", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'insert\', NEW."id", NEW."role", NEW."site_id", NEW."user_id"); RETURN NULL;', hash='3f68e54320be833b519b961c8453c27fcff42e55', operation='INSERT', pgid='pgtrigger_insert_insert_f2da4', table='imrtrial_roleassignment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='roleassignment',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "imrtrial_roleassignmentevent" ("granted_at", "id", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "role", "site_id", "user_id") VALUES (NEW."granted_at", NEW."id", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'update\', NEW."id", NEW."role", NEW."site_id", NEW."user_id"); RETURN NULL;', hash='5c5d7a809cd4dd1cf30cea3b9be9dc6f09e1dfa4', operation='UPDATE', pgid='pgtrigger_update_update_7386f', table='imrtrial_roleassignment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='roleassignment',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "imrtrial_roleassignmentevent" ("granted_at", "id", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "role", "site_id", "user_id") VALUES (OLD."granted_at", OLD."id", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'delete\', OLD."id", OLD."role", OLD."site_id", OLD."user_id"); RETURN NULL;', hash='5bd20e71bd6c8725143f0009552d0ca4feb26d98', operation='DELETE', pgid='pgtrigger_delete_delete_78ecd', table='imrtrial_roleassignment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='roleassignmentevent',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='a3bb3f4afd25ae86213177454e1a980a657b273f', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_4c56b', table='imrtrial_roleassignmentevent', when='BEFORE')),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[],
            database_operations=[
                migrations.CreateModel(
                    name='AuthEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('login', 'Logged in'), ('logout', 'Logged out'), ('login_failed', 'Failed login'), ('locked_out', 'Locked out'), ('token_issued', 'API token issued'), ('otp_failed', 'Wrong or missing second factor'), ('otp_device_added', 'Two-factor device enrolled')], max_length=20)),
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
                migrations.AlterField(
                    model_name='authevent',
                    name='kind',
                    field=models.CharField(choices=[('login', 'Logged in'), ('logout', 'Logged out'), ('login_failed', 'Failed login'), ('locked_out', 'Locked out'), ('token_issued', 'API token issued'), ('otp_failed', 'Wrong or missing second factor'), ('otp_device_added', 'Two-factor device enrolled'), ('otp_verified', 'Second factor verified'), ('otp_device_reset', 'Two-factor device removed by an administrator'), ('token_revoked', 'API token revoked'), ('password_changed', 'Password changed'), ('unlocked', 'Lockout lifted by an administrator')], max_length=20),
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
                        ('pgh_obj', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='trial.staffaccount')),
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
    ]

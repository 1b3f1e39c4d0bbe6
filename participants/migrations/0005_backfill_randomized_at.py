# The time of randomisation becomes the participant's own field (0004); here it is copied from
# each existing allocation, so that a database randomised before the change reads the same.
#
# The copy is a derived value, not new trial data, so it is written even when the database is
# frozen or locked: the lock trigger of this one table is set aside for this one statement
# (inside the migration's transaction). The audit trigger runs as usual: every copied value
# leaves an update event, attributed to this migration.

import json

from django.db import migrations

LOCK_TRIGGER = "pgtrigger_refuse_when_locked_fbd58"  # participants.Participant:refuse_when_locked
CONTEXT = {"task": "migration participants.0005_backfill_randomized_at"}


def copy_randomization_times(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pghistory.context_id', gen_random_uuid()::text, true), "
            "set_config('pghistory.context_metadata', %s, true)",
            [json.dumps(CONTEXT)],
        )
        cursor.execute(f"ALTER TABLE participants_participant DISABLE TRIGGER {LOCK_TRIGGER}")
        cursor.execute(
            """
            UPDATE participants_participant p SET randomized_at = a.randomized_at
            FROM randomization_allocation a
            WHERE a.participant_id = p.id AND p.randomized_at IS DISTINCT FROM a.randomized_at
            """
        )
        cursor.execute(f"ALTER TABLE participants_participant ENABLE TRIGGER {LOCK_TRIGGER}")
        cursor.execute(
            "SELECT set_config('pghistory.context_id', '', true), "
            "set_config('pghistory.context_metadata', '', true)"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('participants', '0004_participant_randomized_at'),
        ('randomization', '0004_sites_and_lock_in_trial'),
    ]

    operations = [
        migrations.RunPython(copy_randomization_times, migrations.RunPython.noop),
    ]

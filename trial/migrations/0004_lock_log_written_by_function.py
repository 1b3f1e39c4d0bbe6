"""The lock log is written only by trial_record_lock_level(), a SECURITY DEFINER function
owned by the owner role: the runtime role may execute it (trial.dbroles grants that) but has
no INSERT on the table, and the table's insert trigger refuses any other writer. The function
records who and why and refuses a freeze or lock in the transaction that opened the database
(open, change data, lock again would leave a log that never shows the data open)."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

RECORD_LOCK_LEVEL = """
CREATE OR REPLACE FUNCTION public.trial_record_lock_level(
    p_level text, p_reason text, p_set_by bigint, p_open_queries integer, p_override boolean
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    this_transaction bigint := pg_current_xact_id()::text::bigint;
    new_id bigint;
BEGIN
    IF p_level IS NULL OR p_level NOT IN ('open', 'freeze', 'lock') THEN
        RAISE EXCEPTION 'Unknown lock level %.', p_level USING ERRCODE = '22023';
    END IF;
    IF coalesce(btrim(p_reason), '') = '' THEN
        RAISE EXCEPTION 'A reason is required for every change of the lock state.'
            USING ERRCODE = '22023';
    END IF;
    IF p_set_by IS NULL THEN
        RAISE EXCEPTION 'Who changes the lock state must be recorded.' USING ERRCODE = '22023';
    END IF;
    IF p_level <> 'open' AND EXISTS (
        SELECT 1 FROM trial_datasetlock
        WHERE transaction_id = this_transaction AND level = 'open'
    ) THEN
        RAISE EXCEPTION 'The database was opened in this transaction: commit the opening '
            'before freezing or locking it again.' USING ERRCODE = 'IMR01';
    END IF;
    PERFORM set_config('imr.lock_writer', 'trial_record_lock_level', true);
    INSERT INTO trial_datasetlock
        (level, reason, set_by_id, set_at, open_queries_override, open_queries, transaction_id)
    VALUES
        (p_level, p_reason, p_set_by, statement_timestamp(), coalesce(p_override, false),
         p_open_queries, this_transaction)
    RETURNING id INTO new_id;
    PERFORM set_config('imr.lock_writer', '', true);
    RETURN new_id;
END;
$$;
REVOKE ALL ON FUNCTION public.trial_record_lock_level(text, text, bigint, integer, boolean)
    FROM PUBLIC;

-- One change of the lock state at a time (the trial tables' triggers only read the log and
-- are not blocked by this mode). LOCK TABLE in this mode needs UPDATE on the table, which
-- the runtime role does not have: the owner takes it on its behalf.
CREATE OR REPLACE FUNCTION public.trial_serialize_lock_changes() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    LOCK TABLE trial_datasetlock IN SHARE ROW EXCLUSIVE MODE;
END;
$$;
REVOKE ALL ON FUNCTION public.trial_serialize_lock_changes() FROM PUBLIC;

-- A freeze or lock holds from its commit: SHARE locks on every lock-aware table wait for the
-- transactions that already wrote trial data and hold back new writers until the commit
-- (the caller sets lock_timeout). Some of those tables are append-only to the runtime role,
-- which therefore cannot take SHARE locks on them itself.
CREATE OR REPLACE FUNCTION public.trial_wait_for_writers() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    tables text;
BEGIN
    SELECT string_agg(format('%I', relname), ', ' ORDER BY relname) INTO tables
    FROM (
        SELECT DISTINCT c.relname
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE t.tgname LIKE 'pgtrigger\\_refuse\\_when\\_locked\\_%'
          AND pg_table_is_visible(c.oid)
    ) AS lock_aware;
    IF tables IS NOT NULL THEN
        EXECUTE 'LOCK TABLE ' || tables || ' IN SHARE MODE';
    END IF;
END;
$$;
REVOKE ALL ON FUNCTION public.trial_wait_for_writers() FROM PUBLIC;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('trial', '0003_roles_tables_and_triggers'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='datasetlock',
            name='insert_insert',
        ),
        migrations.AddField(
            model_name='datasetlock',
            name='transaction_id',
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='datasetlockevent',
            name='transaction_id',
            field=models.BigIntegerField(editable=False, null=True),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='datasetlock',
            trigger=pgtrigger.compiler.Trigger(name='only_through_function', sql=pgtrigger.compiler.UpsertTriggerSql(func="\n                    IF current_setting('imr.lock_writer', true)\n                        IS DISTINCT FROM 'trial_record_lock_level' THEN\n                        RAISE EXCEPTION 'The lock state changes only through trial_record_lock_level().'\n                            USING ERRCODE = '42501';\n                    END IF;\n                    RETURN NEW;\n                ", hash='d684bdd0cdaa848ca4e377800027b982f65d6c23', operation='INSERT', pgid='pgtrigger_only_through_function_3a2c4', table='trial_datasetlock', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='datasetlock',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "trial_datasetlockevent" ("id", "level", "open_queries", "open_queries_override", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reason", "set_at", "set_by_id", "transaction_id") VALUES (NEW."id", NEW."level", NEW."open_queries", NEW."open_queries_override", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'insert\', NEW."id", NEW."reason", NEW."set_at", NEW."set_by_id", NEW."transaction_id"); RETURN NULL;', hash='577cd7cb6db1a92ac5a19a41d3f01a4b29da2b2d', operation='INSERT', pgid='pgtrigger_insert_insert_f5ea5', table='trial_datasetlock', when='AFTER')),
        ),
        migrations.RunSQL(
            RECORD_LOCK_LEVEL,
            "DROP FUNCTION public.trial_record_lock_level(text, text, bigint, integer, boolean);"
            "DROP FUNCTION public.trial_serialize_lock_changes();"
            "DROP FUNCTION public.trial_wait_for_writers();",
        ),
    ]

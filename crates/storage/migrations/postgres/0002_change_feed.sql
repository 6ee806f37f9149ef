-- The change feed: every committed change to a prompt or its labels notifies channel
-- `prompt_manager_changes` with "<schema> <prompt id>", so that other instances on this database
-- can drop what they cached about that prompt (PostgresStore::watch). PostgreSQL delivers a
-- notification only when its transaction commits, and folds identical ones of one transaction
-- into one. Hand edits in SQL are reported too.

CREATE FUNCTION pm_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
BEGIN
    IF TG_TABLE_NAME = 'pm_prompts' THEN
        IF TG_OP = 'DELETE' THEN changed := OLD.id; ELSE changed := NEW.id; END IF;
    ELSE
        IF TG_OP = 'DELETE' THEN changed := OLD.prompt_id; ELSE changed := NEW.prompt_id; END IF;
    END IF;
    PERFORM pg_notify('prompt_manager_changes', TG_TABLE_SCHEMA || ' ' || changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER pm_prompts_notify AFTER INSERT OR UPDATE OR DELETE ON pm_prompts
    FOR EACH ROW EXECUTE FUNCTION pm_notify_change();

CREATE TRIGGER pm_labels_notify AFTER INSERT OR UPDATE OR DELETE ON pm_labels
    FOR EACH ROW EXECUTE FUNCTION pm_notify_change();

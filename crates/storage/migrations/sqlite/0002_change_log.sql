-- The change log: every change to a prompt or its labels appends the prompt's id, in the same
-- transaction, so that other processes on this file can drop what they cached about it
-- (SqliteStore::watch polls the rows after the last one it saw). SQLite has one writer at a time
-- and a rolled-back transaction takes its rows (and their numbers) with it, so the numbers have no
-- gaps: a gap means rows were trimmed before a watcher read them. Hand edits in SQL are logged too.

CREATE TABLE pm_changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id TEXT NOT NULL
);

CREATE TRIGGER pm_prompts_insert_logged AFTER INSERT ON pm_prompts
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (NEW.id); END;
CREATE TRIGGER pm_prompts_update_logged AFTER UPDATE ON pm_prompts
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (NEW.id); END;
CREATE TRIGGER pm_prompts_delete_logged AFTER DELETE ON pm_prompts
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (OLD.id); END;
CREATE TRIGGER pm_labels_insert_logged AFTER INSERT ON pm_labels
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (NEW.prompt_id); END;
CREATE TRIGGER pm_labels_update_logged AFTER UPDATE ON pm_labels
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (NEW.prompt_id); END;
CREATE TRIGGER pm_labels_delete_logged AFTER DELETE ON pm_labels
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (OLD.prompt_id); END;

-- The log keeps the last 10,000 changes; a watcher further behind than that forgets everything.
CREATE TRIGGER pm_changes_trimmed AFTER INSERT ON pm_changes
BEGIN DELETE FROM pm_changes WHERE seq <= NEW.seq - 10000; END;

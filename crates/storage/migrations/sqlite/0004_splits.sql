-- A/B splits (issue 15): a label may point at several versions with integer weights.
-- `split` is the JSON list `[{"version": "1.2.0", "weight": 90}, …]` (2 to 10 distinct versions,
-- in version order) or NULL for a label that points at one version; `version` stays the split's
-- primary version (the largest weight), so the foreign key, the listing by label and older
-- readers keep working. Label events record the split before and after the same way.
-- Existing databases gain the columns when they open; their labels stay one-version labels.
ALTER TABLE pm_labels ADD COLUMN split TEXT;
ALTER TABLE pm_label_events ADD COLUMN from_split TEXT;
ALTER TABLE pm_label_events ADD COLUMN to_split TEXT;

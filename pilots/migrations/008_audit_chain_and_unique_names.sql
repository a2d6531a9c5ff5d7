-- The audit log becomes tamper-evident and names its machine user; unit names are unique whatever
-- their capitals in the database itself (two editors adding "Dup Unit" at the same moment can no
-- longer both succeed, whatever the timing).
--
-- `entry_hash` seals each entry onto the one before it (pilots.db.audit_digest); the entries written
-- before this migration are sealed by the migration's Python step (pilots.db._seal_existing_audit).
-- `os_user` is the operating-system user of the process that wrote the entry (the command line acts
-- as the CCO office; this names who ran it).
ALTER TABLE audit_log ADD COLUMN os_user VARCHAR;
ALTER TABLE audit_log ADD COLUMN entry_hash VARCHAR;

-- A unique index on lower(name) of business_units itself would make DuckDB refuse every rename of a
-- unit that pilots refer to (an update of an indexed column is a delete and insert, which a foreign
-- key forbids), so the folded names live in a table of their own, kept by pilots.store.
CREATE TABLE unit_name_keys (
    name_key VARCHAR PRIMARY KEY,
    unit_id  INTEGER NOT NULL UNIQUE
);
INSERT INTO unit_name_keys SELECT lower(trim(name)), unit_id FROM business_units;

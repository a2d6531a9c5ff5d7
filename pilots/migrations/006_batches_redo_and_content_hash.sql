-- Undo that can be taken back, and files recognised when they come again.
--
-- Undoing a batch moves its rows out of `observations` / `measurements` (which every analysis,
-- chart and coverage reads) into `undone_observations` / `undone_measurements`, unchanged; a redo
-- moves them back. Readers of the live tables need no filter, and the row counts the data version
-- is built from change with every undo and redo. A row is in exactly one of the two places.
--
-- content_hash: sha256 of the imported file's bytes (NULL for tables typed in the app and for the
-- demo), so a file identical to an earlier batch is flagged before it is imported again.
-- kept_rows: how many rows the batch's latest undo set aside for a redo; NULL while the batch
-- stands, and for batches undone before this migration (their rows were deleted: no redo).
-- redone_at / redone_by: the latest redo. The whole history is in the audit log.
ALTER TABLE import_batches ADD COLUMN content_hash VARCHAR;
ALTER TABLE import_batches ADD COLUMN kept_rows BIGINT;
ALTER TABLE import_batches ADD COLUMN redone_at TIMESTAMP;
ALTER TABLE import_batches ADD COLUMN redone_by VARCHAR;

-- Like `observations` (005), references are checked by the import that wrote the rows; units,
-- metrics and batches are never deleted.
CREATE TABLE undone_observations (
    batch_id   INTEGER NOT NULL,
    unit_id    INTEGER NOT NULL,
    metric_key VARCHAR NOT NULL,
    obs_date   DATE NOT NULL,
    value      DOUBLE NOT NULL CHECK (isfinite(value))
);

-- No primary key on (unit, metric, period): two undone batches may both hold a value for the same
-- period (one had replaced the other's); a redo checks what stands in the live table.
CREATE TABLE undone_measurements (
    batch_id     INTEGER NOT NULL,
    unit_id      INTEGER NOT NULL,
    metric_key   VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    value        DOUBLE NOT NULL CHECK (isfinite(value)),
    n            BIGINT CHECK (n IS NULL OR n > 0),
    sd           DOUBLE CHECK (sd IS NULL OR sd >= 0)
);

-- Observations are the fact table (millions of rows) and are written only by pilots.ingest (and the
-- demo loader), which check every row's unit and metric against business_units and metrics inside
-- the writing transaction. DuckDB's own foreign-key checks cost about 1 s per million inserted rows
-- here (0.07 s without), which alone breaks the import budget of 3x DuckDB's read_csv; so this table
-- keeps its NOT NULL and CHECK constraints and leaves the references to the import. Units, metrics
-- and batches are never deleted, so no reference can dangle afterwards.
DROP VIEW scored_observations;
CREATE TABLE observations_checked_by_import (
    batch_id   INTEGER NOT NULL,
    unit_id    INTEGER NOT NULL,
    metric_key VARCHAR NOT NULL,
    obs_date   DATE NOT NULL,
    value      DOUBLE NOT NULL CHECK (isfinite(value))
);
INSERT INTO observations_checked_by_import SELECT batch_id, unit_id, metric_key, obs_date, value FROM observations;
DROP TABLE observations;
ALTER TABLE observations_checked_by_import RENAME TO observations;

CREATE VIEW scored_observations AS
SELECT o.batch_id, o.unit_id, o.metric_key, o.obs_date, o.value,
       CASE m.aggregation
           WHEN 'nps' THEN CASE WHEN o.value >= 9 THEN 100.0 WHEN o.value <= 6 THEN -100.0 ELSE 0.0 END
           WHEN 'top2box' THEN CASE WHEN o.value >= m.max_value - 1 THEN 1.0 ELSE 0.0 END
           ELSE o.value
       END AS score
FROM observations o
JOIN metrics m USING (metric_key);

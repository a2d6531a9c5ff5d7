-- A pilot may start in several units: pilots.unit_id is its lead unit (who owns it, where it is
-- listed first); pilot_further_units holds the others. pilot_units is every unit a pilot treats,
-- the lead included: what the analysis, overlaps and who-may-see read.
CREATE TABLE pilot_further_units (
    pilot_id INTEGER NOT NULL REFERENCES pilots (pilot_id),
    unit_id  INTEGER NOT NULL REFERENCES business_units (unit_id),
    PRIMARY KEY (pilot_id, unit_id)
);
CREATE VIEW pilot_units AS
SELECT pilot_id, unit_id FROM pilots
UNION ALL
SELECT pilot_id, unit_id FROM pilot_further_units;

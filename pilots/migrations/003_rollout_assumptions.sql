-- The editable assumptions behind a pilot's rollout value, stored with the pilot (the value of one
-- point per customer lives on pilots.value_per_point). unit_ids NULL = every unit but the pilot's.
CREATE TABLE rollout_assumptions (
    pilot_id                INTEGER PRIMARY KEY REFERENCES pilots (pilot_id),
    revenue_share_per_point DOUBLE NOT NULL DEFAULT 0 CHECK (revenue_share_per_point >= 0),
    realisation             DOUBLE NOT NULL DEFAULT 1 CHECK (realisation >= 0 AND realisation <= 1),
    unit_ids                INTEGER[],
    updated_by              VARCHAR NOT NULL,
    updated_at              TIMESTAMP NOT NULL DEFAULT current_timestamp
);

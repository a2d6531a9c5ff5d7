-- The whole domain of the SPEC: units, metrics, pilots, data, batches, decisions, comments, audit.
-- Names of units are unique case-insensitively; that is checked in pilots.store, because DuckDB
-- rewrites an update of an indexed column as delete + insert, which a referenced row refuses.

CREATE SEQUENCE unit_id_seq START 1;
CREATE TABLE business_units (
    unit_id              INTEGER PRIMARY KEY DEFAULT nextval('unit_id_seq'),
    name                 VARCHAR NOT NULL CHECK (length(trim(name)) > 0),
    head                 VARCHAR,
    customers            BIGINT CHECK (customers IS NULL OR customers >= 0),
    revenue_per_customer DOUBLE CHECK (revenue_per_customer IS NULL OR revenue_per_customer >= 0),
    created_at           TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE metrics (
    metric_key     VARCHAR PRIMARY KEY CHECK (regexp_full_match(metric_key, '[a-z][a-z0-9_]*')),
    label          VARCHAR NOT NULL CHECK (length(trim(label)) > 0),
    unit           VARCHAR NOT NULL DEFAULT '',
    direction      VARCHAR NOT NULL CHECK (direction IN ('higher', 'lower')),
    aggregation    VARCHAR NOT NULL CHECK (aggregation IN ('mean', 'nps', 'top2box', 'rate')),
    min_value      DOUBLE,
    max_value      DOUBLE,
    whole_numbers  BOOLEAN NOT NULL DEFAULT FALSE,
    role_hint      VARCHAR CHECK (role_hint IS NULL OR role_hint IN ('north_star', 'driver', 'guardrail')),
    description    VARCHAR NOT NULL DEFAULT '',
    CHECK (min_value IS NULL OR max_value IS NULL OR min_value < max_value),
    CHECK (aggregation NOT IN ('nps', 'top2box') OR (min_value IS NOT NULL AND max_value IS NOT NULL)),
    CHECK (aggregation <> 'rate' OR (min_value >= 0 AND max_value <= 1))
);

CREATE SEQUENCE pilot_id_seq START 1;
CREATE TABLE pilots (
    pilot_id        INTEGER PRIMARY KEY DEFAULT nextval('pilot_id_seq'),
    name            VARCHAR NOT NULL CHECK (length(trim(name)) > 0),
    unit_id         INTEGER NOT NULL REFERENCES business_units (unit_id),
    owner           VARCHAR NOT NULL DEFAULT '',
    sponsor         VARCHAR NOT NULL DEFAULT '',
    hypothesis      VARCHAR NOT NULL DEFAULT '',
    journey_stage   VARCHAR NOT NULL DEFAULT '',
    barrier_type    VARCHAR CHECK (barrier_type IS NULL OR barrier_type IN ('operational', 'cultural', 'technical')),
    baseline_start  DATE NOT NULL,
    baseline_end    DATE NOT NULL,
    pilot_start     DATE NOT NULL,
    pilot_end       DATE NOT NULL,
    primary_metric  VARCHAR NOT NULL REFERENCES metrics (metric_key),
    target_effect   DOUBLE,
    cost            DOUBLE CHECK (cost IS NULL OR cost >= 0),
    randomised      BOOLEAN NOT NULL DEFAULT FALSE,
    released        BOOLEAN NOT NULL DEFAULT FALSE,
    status          VARCHAR NOT NULL DEFAULT 'proposed'
                    CHECK (status IN ('proposed', 'baseline', 'running', 'evaluating', 'decided', 'rolled_out')),
    decision        VARCHAR CHECK (decision IS NULL OR decision IN ('roll_out', 'extend', 'stop')),
    decision_rationale VARCHAR,
    value_per_point DOUBLE,
    version         INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    CHECK (baseline_start <= baseline_end),
    CHECK (baseline_end < pilot_start),
    CHECK (pilot_start <= pilot_end),
    CHECK (status NOT IN ('decided', 'rolled_out') OR decision IS NOT NULL)
);

CREATE TABLE pilot_controls (
    pilot_id INTEGER NOT NULL REFERENCES pilots (pilot_id),
    unit_id  INTEGER NOT NULL REFERENCES business_units (unit_id),
    PRIMARY KEY (pilot_id, unit_id)
);

-- The primary metric lives on pilots; this table holds the secondary and guardrail metrics.
CREATE TABLE pilot_metrics (
    pilot_id   INTEGER NOT NULL REFERENCES pilots (pilot_id),
    metric_key VARCHAR NOT NULL REFERENCES metrics (metric_key),
    role       VARCHAR NOT NULL CHECK (role IN ('secondary', 'guardrail')),
    PRIMARY KEY (pilot_id, metric_key)
);

CREATE TABLE pilot_rollouts (
    pilot_id   INTEGER NOT NULL REFERENCES pilots (pilot_id),
    unit_id    INTEGER NOT NULL REFERENCES business_units (unit_id),
    adopted_on DATE NOT NULL,
    PRIMARY KEY (pilot_id, unit_id)
);

CREATE SEQUENCE batch_id_seq START 1;
CREATE TABLE import_batches (
    batch_id    INTEGER PRIMARY KEY DEFAULT nextval('batch_id_seq'),
    kind        VARCHAR NOT NULL CHECK (kind IN ('observations', 'measurements')),
    source      VARCHAR NOT NULL,
    imported_by VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    row_count   BIGINT NOT NULL CHECK (row_count >= 0),
    undone_at   TIMESTAMP,
    undone_by   VARCHAR
);

-- Row-level data: one survey answer or one case.
CREATE TABLE observations (
    batch_id   INTEGER NOT NULL REFERENCES import_batches (batch_id),
    unit_id    INTEGER NOT NULL REFERENCES business_units (unit_id),
    metric_key VARCHAR NOT NULL REFERENCES metrics (metric_key),
    obs_date   DATE NOT NULL,
    value      DOUBLE NOT NULL CHECK (isfinite(value))
);

-- Period aggregates: one value per unit, metric and period, with its n and sd where known.
CREATE TABLE measurements (
    unit_id      INTEGER NOT NULL REFERENCES business_units (unit_id),
    metric_key   VARCHAR NOT NULL REFERENCES metrics (metric_key),
    period_start DATE NOT NULL,
    value        DOUBLE NOT NULL CHECK (isfinite(value)),
    n            BIGINT CHECK (n IS NULL OR n > 0),
    sd           DOUBLE CHECK (sd IS NULL OR sd >= 0),
    batch_id     INTEGER NOT NULL REFERENCES import_batches (batch_id),
    PRIMARY KEY (unit_id, metric_key, period_start)
);

CREATE SEQUENCE decision_id_seq START 1;
CREATE TABLE decision_log (
    decision_id    INTEGER PRIMARY KEY DEFAULT nextval('decision_id_seq'),
    pilot_id       INTEGER NOT NULL REFERENCES pilots (pilot_id),
    decision       VARCHAR NOT NULL CHECK (decision IN ('roll_out', 'extend', 'stop')),
    rationale      VARCHAR NOT NULL CHECK (length(trim(rationale)) > 0),
    approved_by    VARCHAR NOT NULL,
    decided_on     DATE NOT NULL,
    recorded_by    VARCHAR NOT NULL,
    recorded_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    evidence       JSON
);

CREATE SEQUENCE comment_id_seq START 1;
CREATE TABLE comments (
    comment_id INTEGER PRIMARY KEY DEFAULT nextval('comment_id_seq'),
    pilot_id   INTEGER NOT NULL REFERENCES pilots (pilot_id),
    author     VARCHAR NOT NULL,
    body       VARCHAR NOT NULL CHECK (length(trim(body)) > 0),
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE users (
    email      VARCHAR PRIMARY KEY CHECK (email = lower(email) AND email LIKE '%_@_%'),
    role       VARCHAR NOT NULL CHECK (role IN ('editor', 'unit_head', 'steering')),
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE user_units (
    email   VARCHAR NOT NULL REFERENCES users (email),
    unit_id INTEGER NOT NULL REFERENCES business_units (unit_id),
    PRIMARY KEY (email, unit_id)
);

CREATE SEQUENCE audit_id_seq START 1;
CREATE TABLE audit_log (
    audit_id  BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    logged_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    actor     VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    entity    VARCHAR NOT NULL,
    entity_id VARCHAR,
    before    JSON,
    after     JSON
);

-- Each observation turned into the score whose mean is the metric: for NPS +100 / 0 / -100 per
-- promoter / passive / detractor (so the variance of scores is the multinomial variance of the
-- difference of the two shares), for top-2-box 1 / 0, otherwise the value itself.
CREATE VIEW scored_observations AS
SELECT o.batch_id, o.unit_id, o.metric_key, o.obs_date, o.value,
       CASE m.aggregation
           WHEN 'nps' THEN CASE WHEN o.value >= 9 THEN 100.0 WHEN o.value <= 6 THEN -100.0 ELSE 0.0 END
           WHEN 'top2box' THEN CASE WHEN o.value >= m.max_value - 1 THEN 1.0 ELSE 0.0 END
           ELSE o.value
       END AS score
FROM observations o
JOIN metrics m USING (metric_key);

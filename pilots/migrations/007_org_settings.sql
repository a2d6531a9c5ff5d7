-- The organisation's own settings, one row (absent until the CCO office first saves them; until then
-- pilots.org reads its defaults): the name and logo on every deck's title slide, the currency money is
-- shown in, and the default "prepared by". `version` counts saves, for the expected-version check
-- that refuses a stale save (pilots.org.save_org_settings).
CREATE TABLE org_settings (
    settings_id     INTEGER PRIMARY KEY CHECK (settings_id = 1),
    name            VARCHAR NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    logo            BLOB,
    logo_format     VARCHAR CHECK (logo_format IN ('PNG', 'JPEG')),
    currency_code   VARCHAR NOT NULL DEFAULT '' CHECK (currency_code = '' OR regexp_full_match(currency_code, '[A-Z]{3}')),
    currency_symbol VARCHAR NOT NULL DEFAULT '',
    prepared_by     VARCHAR NOT NULL DEFAULT '',
    version         INTEGER NOT NULL CHECK (version >= 1),
    updated_by      VARCHAR NOT NULL,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    CHECK ((logo IS NULL) = (logo_format IS NULL))
);

-- Who may do what, by e-mail. The units of a unit head are a list on the row rather than a child
-- table: DuckDB checks a foreign key against rows deleted earlier in the same transaction, so a
-- user with child rows could not be removed or changed in one transaction. No one was mapped by
-- 001's two tables yet, so they are replaced. Unit ids are checked by pilots.users on write
-- (units are never deleted).
DROP TABLE user_units;
DROP TABLE users;
CREATE TABLE users (
    email      VARCHAR PRIMARY KEY CHECK (email = lower(trim(email)) AND regexp_full_match(email, '[^@\s]+@[^@\s]+')),
    role       VARCHAR NOT NULL CHECK (role IN ('editor', 'unit_head', 'steering')),
    unit_ids   INTEGER[] NOT NULL DEFAULT [],
    added_by   VARCHAR NOT NULL,
    added_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    CHECK ((role = 'unit_head') = (len(unit_ids) > 0))
);

-- The first migration of sql/tests/sqlx.rs: a table with a serial key, a unique name and
-- an array column.
CREATE TABLE items (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    tags TEXT[] NOT NULL DEFAULT '{}'
);

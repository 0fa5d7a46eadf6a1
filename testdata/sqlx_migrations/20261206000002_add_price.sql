-- The second migration: a column with a default and an index.
ALTER TABLE items ADD COLUMN price NUMERIC(8, 2) NOT NULL DEFAULT 0;
CREATE INDEX items_price ON items (price);

-- Counting a list (K-LST-12) reads only the index: it carries ``deleted``.
DROP INDEX IF EXISTS objects_list_last_modified_idx;
CREATE UNIQUE INDEX IF NOT EXISTS objects_list_last_modified_idx
    ON objects (parent_id, resource, last_modified) INCLUDE (deleted);

-- Equality filters on any (nested) field of big lists: every ``field=value`` filter also
-- sends ``data @> {"field": value}``, which this index answers.
CREATE INDEX IF NOT EXISTS objects_data_idx ON objects USING gin (data jsonb_path_ops);

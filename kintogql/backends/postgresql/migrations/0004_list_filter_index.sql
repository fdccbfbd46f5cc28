-- Equality filters of one list: every list statement names its parent, so a GIN index over
-- (parent_id, data) finds exactly the matching objects of that list. The former index over
-- ``data`` alone matched the same value in every list of the database, and a filtered page of
-- a big collection in a big database fell back to scanning the whole table.
-- btree_gin (a trusted contrib extension) gives GIN its ``text`` operator class.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX IF NOT EXISTS objects_list_data_idx
    ON objects USING gin (parent_id, data jsonb_path_ops);
DROP INDEX IF EXISTS objects_data_idx;

-- Objects of every resource, live ones and tombstones, each with its own ACL.
-- ``data`` holds neither ``id`` nor ``last_modified`` (they are columns); a tombstone's data is
-- ``{"deleted": true}`` and its permissions ``{}``.
-- Text columns use the "C" collation: ids sort by code point (K-LST-10) and
-- ``parent_id LIKE 'prefix%'`` can use a btree index (cascades, K-MTH-11).
CREATE TABLE IF NOT EXISTS objects (
    resource text COLLATE "C" NOT NULL,
    parent_id text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    last_modified bigint NOT NULL,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    permissions jsonb NOT NULL DEFAULT '{}'::jsonb,
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (resource, parent_id, id)
);

-- _since polling, the default ``-last_modified`` order, forced-timestamp unicity (K-OBJ-7),
-- and (parent_id first) the prefix scans of cascades.
CREATE UNIQUE INDEX IF NOT EXISTS objects_list_last_modified_idx
    ON objects (parent_id, resource, last_modified);

-- Group principals (K-PRM-8): ``data->'members' ?| member_ids``.
CREATE INDEX IF NOT EXISTS objects_group_members_idx
    ON objects USING gin ((data -> 'members'))
    WHERE resource = 'group';

-- ACL holders (K-PRM-9): every principal named by an object's own ACL, whatever the
-- permission, ``?| principals``.
CREATE INDEX IF NOT EXISTS objects_acl_principals_idx
    ON objects USING gin ((jsonb_path_query_array(permissions, '$.*[*]')))
    WHERE NOT deleted AND resource <> 'history';

-- One row per list (K-OBJ-6). ``last_modified`` is NULL while a writer holds the lock of a
-- list that has no timestamp yet (neither written nor read).
CREATE TABLE IF NOT EXISTS timestamps (
    resource text COLLATE "C" NOT NULL,
    parent_id text COLLATE "C" NOT NULL,
    last_modified bigint,
    PRIMARY KEY (resource, parent_id)
);

CREATE INDEX IF NOT EXISTS timestamps_parent_id_idx ON timestamps (parent_id);

-- Keep planner statistics close to the data: a list that grows fast (a fresh collection
-- filled by a sync) otherwise runs for a while on the statistics of an almost empty table,
-- and id lookups may then scan a whole list instead of using the primary key.
ALTER TABLE objects SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200);
-- The list timestamps are updated on every write: leave room for HOT updates on their page.
ALTER TABLE timestamps SET (fillfactor = 50);

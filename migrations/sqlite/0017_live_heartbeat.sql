-- Issue 18: several `pufa serve` replicas on one database. A live belongs to the process that
-- ingests it, which writes this every few seconds; a process starting (or sweeping) archives
-- only lives whose heartbeat went stale, never the running lives of another replica.
ALTER TABLE lives ADD COLUMN heartbeat_at TEXT;

-- How many times each schedule's rule has fired (its runs, whether or not the
-- job they enqueued has since been cleared by retention).

ALTER TABLE schedules ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0;

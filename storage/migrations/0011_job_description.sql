-- What a job is for, in its submitter's words (a task's `description`).

ALTER TABLE jobs ADD COLUMN description TEXT NOT NULL DEFAULT '';

-- When a task's filters changed after it had pulled: its pulls only ask for
-- what changed since, so records the new filters select that did not
-- change are not pulled until a re-pull. The console offers it; a re-pull
-- clears this.
ALTER TABLE tasks ADD COLUMN filters_changed_at TIMESTAMP;

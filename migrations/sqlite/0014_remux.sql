-- Issue 19: which path a transcode took and why, shown to the organizer beside the job.
-- `path`: 'remux' (the top rung copies the source video) or 'transcode' (every rung encoded);
-- `path_reason`: a stable code (src/media/transcode/choice.rs `PathReason`);
-- `path_note`: the Chinese line for the page, e.g. 快速路径：复制原视频（GOP 1.0 s）.
-- NULL for jobs finished before this migration and for live archives.
ALTER TABLE jobs ADD COLUMN path TEXT CHECK (path IS NULL OR path IN ('remux', 'transcode'));
ALTER TABLE jobs ADD COLUMN path_reason TEXT;
ALTER TABLE jobs ADD COLUMN path_note TEXT;

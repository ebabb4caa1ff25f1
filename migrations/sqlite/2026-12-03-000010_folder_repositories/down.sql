ALTER TABLE runs DROP COLUMN bytes_lost;
DROP TABLE folder_files;
ALTER TABLE tasks DROP COLUMN delete_input_files;
ALTER TABLE tasks DROP COLUMN last_bundle_seq;
ALTER TABLE tasks DROP COLUMN outfile_pattern;
ALTER TABLE tasks DROP COLUMN infile_pattern;
ALTER TABLE repositories DROP COLUMN folder_path;

DROP TABLE hourly_records;

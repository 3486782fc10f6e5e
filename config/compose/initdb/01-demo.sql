-- Generated from partproxy's demo schema (src/demo.rs); a unit test keeps it in step.
CREATE DATABASE demo;
\connect demo
CREATE TABLE logs (id bigint NOT NULL, created_at timestamptz NOT NULL, level text NOT NULL DEFAULT 'info', message text);
-- The trigger never stores rows in the parent; saying so lets readers skip it.
ALTER TABLE ONLY logs ADD CONSTRAINT logs_parent_empty CHECK (false) NO INHERIT;
CREATE TABLE logs_2024_01 (CHECK (created_at >= '2024-01-01 00:00:00+00' AND created_at < '2024-02-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_01 (created_at);
CREATE TABLE logs_2024_02 (CHECK (created_at >= '2024-02-01 00:00:00+00' AND created_at < '2024-03-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_02 (created_at);
CREATE TABLE logs_2024_03 (CHECK (created_at >= '2024-03-01 00:00:00+00' AND created_at < '2024-04-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_03 (created_at);
CREATE TABLE logs_2024_04 (CHECK (created_at >= '2024-04-01 00:00:00+00' AND created_at < '2024-05-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_04 (created_at);
CREATE TABLE logs_2024_05 (CHECK (created_at >= '2024-05-01 00:00:00+00' AND created_at < '2024-06-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_05 (created_at);
CREATE TABLE logs_2024_06 (CHECK (created_at >= '2024-06-01 00:00:00+00' AND created_at < '2024-07-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_06 (created_at);
CREATE TABLE logs_2024_07 (CHECK (created_at >= '2024-07-01 00:00:00+00' AND created_at < '2024-08-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_07 (created_at);
CREATE TABLE logs_2024_08 (CHECK (created_at >= '2024-08-01 00:00:00+00' AND created_at < '2024-09-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_08 (created_at);
CREATE TABLE logs_2024_09 (CHECK (created_at >= '2024-09-01 00:00:00+00' AND created_at < '2024-10-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_09 (created_at);
CREATE TABLE logs_2024_10 (CHECK (created_at >= '2024-10-01 00:00:00+00' AND created_at < '2024-11-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_10 (created_at);
CREATE TABLE logs_2024_11 (CHECK (created_at >= '2024-11-01 00:00:00+00' AND created_at < '2024-12-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_11 (created_at);
CREATE TABLE logs_2024_12 (CHECK (created_at >= '2024-12-01 00:00:00+00' AND created_at < '2025-01-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2024_12 (created_at);
CREATE TABLE logs_2025_01 (CHECK (created_at >= '2025-01-01 00:00:00+00' AND created_at < '2025-02-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_01 (created_at);
CREATE TABLE logs_2025_02 (CHECK (created_at >= '2025-02-01 00:00:00+00' AND created_at < '2025-03-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_02 (created_at);
CREATE TABLE logs_2025_03 (CHECK (created_at >= '2025-03-01 00:00:00+00' AND created_at < '2025-04-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_03 (created_at);
CREATE TABLE logs_2025_04 (CHECK (created_at >= '2025-04-01 00:00:00+00' AND created_at < '2025-05-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_04 (created_at);
CREATE TABLE logs_2025_05 (CHECK (created_at >= '2025-05-01 00:00:00+00' AND created_at < '2025-06-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_05 (created_at);
CREATE TABLE logs_2025_06 (CHECK (created_at >= '2025-06-01 00:00:00+00' AND created_at < '2025-07-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_06 (created_at);
CREATE TABLE logs_2025_07 (CHECK (created_at >= '2025-07-01 00:00:00+00' AND created_at < '2025-08-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_07 (created_at);
CREATE TABLE logs_2025_08 (CHECK (created_at >= '2025-08-01 00:00:00+00' AND created_at < '2025-09-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_08 (created_at);
CREATE TABLE logs_2025_09 (CHECK (created_at >= '2025-09-01 00:00:00+00' AND created_at < '2025-10-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_09 (created_at);
CREATE TABLE logs_2025_10 (CHECK (created_at >= '2025-10-01 00:00:00+00' AND created_at < '2025-11-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_10 (created_at);
CREATE TABLE logs_2025_11 (CHECK (created_at >= '2025-11-01 00:00:00+00' AND created_at < '2025-12-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_11 (created_at);
CREATE TABLE logs_2025_12 (CHECK (created_at >= '2025-12-01 00:00:00+00' AND created_at < '2026-01-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2025_12 (created_at);
CREATE TABLE logs_2026_01 (CHECK (created_at >= '2026-01-01 00:00:00+00' AND created_at < '2026-02-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_01 (created_at);
CREATE TABLE logs_2026_02 (CHECK (created_at >= '2026-02-01 00:00:00+00' AND created_at < '2026-03-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_02 (created_at);
CREATE TABLE logs_2026_03 (CHECK (created_at >= '2026-03-01 00:00:00+00' AND created_at < '2026-04-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_03 (created_at);
CREATE TABLE logs_2026_04 (CHECK (created_at >= '2026-04-01 00:00:00+00' AND created_at < '2026-05-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_04 (created_at);
CREATE TABLE logs_2026_05 (CHECK (created_at >= '2026-05-01 00:00:00+00' AND created_at < '2026-06-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_05 (created_at);
CREATE TABLE logs_2026_06 (CHECK (created_at >= '2026-06-01 00:00:00+00' AND created_at < '2026-07-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_06 (created_at);
CREATE TABLE logs_2026_07 (CHECK (created_at >= '2026-07-01 00:00:00+00' AND created_at < '2026-08-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_07 (created_at);
CREATE TABLE logs_2026_08 (CHECK (created_at >= '2026-08-01 00:00:00+00' AND created_at < '2026-09-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_08 (created_at);
CREATE TABLE logs_2026_09 (CHECK (created_at >= '2026-09-01 00:00:00+00' AND created_at < '2026-10-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_09 (created_at);
CREATE TABLE logs_2026_10 (CHECK (created_at >= '2026-10-01 00:00:00+00' AND created_at < '2026-11-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_10 (created_at);
CREATE TABLE logs_2026_11 (CHECK (created_at >= '2026-11-01 00:00:00+00' AND created_at < '2026-12-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_11 (created_at);
CREATE TABLE logs_2026_12 (CHECK (created_at >= '2026-12-01 00:00:00+00' AND created_at < '2027-01-01 00:00:00+00')) INHERITS (logs);
CREATE INDEX ON logs_2026_12 (created_at);
CREATE FUNCTION logs_insert_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.created_at >= '2024-01-01 00:00:00+00' AND NEW.created_at < '2024-02-01 00:00:00+00' THEN
    INSERT INTO logs_2024_01 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-02-01 00:00:00+00' AND NEW.created_at < '2024-03-01 00:00:00+00' THEN
    INSERT INTO logs_2024_02 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-03-01 00:00:00+00' AND NEW.created_at < '2024-04-01 00:00:00+00' THEN
    INSERT INTO logs_2024_03 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-04-01 00:00:00+00' AND NEW.created_at < '2024-05-01 00:00:00+00' THEN
    INSERT INTO logs_2024_04 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-05-01 00:00:00+00' AND NEW.created_at < '2024-06-01 00:00:00+00' THEN
    INSERT INTO logs_2024_05 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-06-01 00:00:00+00' AND NEW.created_at < '2024-07-01 00:00:00+00' THEN
    INSERT INTO logs_2024_06 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-07-01 00:00:00+00' AND NEW.created_at < '2024-08-01 00:00:00+00' THEN
    INSERT INTO logs_2024_07 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-08-01 00:00:00+00' AND NEW.created_at < '2024-09-01 00:00:00+00' THEN
    INSERT INTO logs_2024_08 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-09-01 00:00:00+00' AND NEW.created_at < '2024-10-01 00:00:00+00' THEN
    INSERT INTO logs_2024_09 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-10-01 00:00:00+00' AND NEW.created_at < '2024-11-01 00:00:00+00' THEN
    INSERT INTO logs_2024_10 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-11-01 00:00:00+00' AND NEW.created_at < '2024-12-01 00:00:00+00' THEN
    INSERT INTO logs_2024_11 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-12-01 00:00:00+00' AND NEW.created_at < '2025-01-01 00:00:00+00' THEN
    INSERT INTO logs_2024_12 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-01-01 00:00:00+00' AND NEW.created_at < '2025-02-01 00:00:00+00' THEN
    INSERT INTO logs_2025_01 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-02-01 00:00:00+00' AND NEW.created_at < '2025-03-01 00:00:00+00' THEN
    INSERT INTO logs_2025_02 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-03-01 00:00:00+00' AND NEW.created_at < '2025-04-01 00:00:00+00' THEN
    INSERT INTO logs_2025_03 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-04-01 00:00:00+00' AND NEW.created_at < '2025-05-01 00:00:00+00' THEN
    INSERT INTO logs_2025_04 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-05-01 00:00:00+00' AND NEW.created_at < '2025-06-01 00:00:00+00' THEN
    INSERT INTO logs_2025_05 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-06-01 00:00:00+00' AND NEW.created_at < '2025-07-01 00:00:00+00' THEN
    INSERT INTO logs_2025_06 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-07-01 00:00:00+00' AND NEW.created_at < '2025-08-01 00:00:00+00' THEN
    INSERT INTO logs_2025_07 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-08-01 00:00:00+00' AND NEW.created_at < '2025-09-01 00:00:00+00' THEN
    INSERT INTO logs_2025_08 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-09-01 00:00:00+00' AND NEW.created_at < '2025-10-01 00:00:00+00' THEN
    INSERT INTO logs_2025_09 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-10-01 00:00:00+00' AND NEW.created_at < '2025-11-01 00:00:00+00' THEN
    INSERT INTO logs_2025_10 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-11-01 00:00:00+00' AND NEW.created_at < '2025-12-01 00:00:00+00' THEN
    INSERT INTO logs_2025_11 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2025-12-01 00:00:00+00' AND NEW.created_at < '2026-01-01 00:00:00+00' THEN
    INSERT INTO logs_2025_12 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-01-01 00:00:00+00' AND NEW.created_at < '2026-02-01 00:00:00+00' THEN
    INSERT INTO logs_2026_01 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-02-01 00:00:00+00' AND NEW.created_at < '2026-03-01 00:00:00+00' THEN
    INSERT INTO logs_2026_02 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-03-01 00:00:00+00' AND NEW.created_at < '2026-04-01 00:00:00+00' THEN
    INSERT INTO logs_2026_03 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-04-01 00:00:00+00' AND NEW.created_at < '2026-05-01 00:00:00+00' THEN
    INSERT INTO logs_2026_04 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-05-01 00:00:00+00' AND NEW.created_at < '2026-06-01 00:00:00+00' THEN
    INSERT INTO logs_2026_05 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-06-01 00:00:00+00' AND NEW.created_at < '2026-07-01 00:00:00+00' THEN
    INSERT INTO logs_2026_06 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-07-01 00:00:00+00' AND NEW.created_at < '2026-08-01 00:00:00+00' THEN
    INSERT INTO logs_2026_07 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-08-01 00:00:00+00' AND NEW.created_at < '2026-09-01 00:00:00+00' THEN
    INSERT INTO logs_2026_08 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-09-01 00:00:00+00' AND NEW.created_at < '2026-10-01 00:00:00+00' THEN
    INSERT INTO logs_2026_09 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-10-01 00:00:00+00' AND NEW.created_at < '2026-11-01 00:00:00+00' THEN
    INSERT INTO logs_2026_10 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-11-01 00:00:00+00' AND NEW.created_at < '2026-12-01 00:00:00+00' THEN
    INSERT INTO logs_2026_11 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2026-12-01 00:00:00+00' AND NEW.created_at < '2027-01-01 00:00:00+00' THEN
    INSERT INTO logs_2026_12 VALUES (NEW.*);
  ELSE
    RAISE EXCEPTION 'Date out of range.  Fix the logs_insert_trigger() function!';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER insert_logs_trigger BEFORE INSERT ON logs FOR EACH ROW EXECUTE FUNCTION logs_insert_trigger();
INSERT INTO logs (id, created_at, level, message) SELECT g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '600 seconds', (ARRAY['debug','info','warn','error'])[1 + g % 4], 'message ' || g FROM generate_series(1, 150000) g;
ANALYZE logs;

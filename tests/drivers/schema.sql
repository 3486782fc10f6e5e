-- Schema the driver suites run against. Two parents without a trigger are
-- declared empty to the proxy while each holds one planted row: a routed
-- statement never sees it, a passed-through one would (and a passed-through
-- INSERT would leave its row in the parent). `audit` is a legacy parent
-- with a routing trigger, for what passes through (COPY).
CREATE TABLE events (id bigint, created_at timestamptz, note text);
CREATE TABLE events_2025_01 (CHECK (created_at >= '2025-01-01 00:00:00+00' AND created_at < '2025-02-01 00:00:00+00')) INHERITS (events);
CREATE TABLE events_2025_02 (CHECK (created_at >= '2025-02-01 00:00:00+00' AND created_at < '2025-03-01 00:00:00+00')) INHERITS (events);
CREATE TABLE events_2025_03 (CHECK (created_at >= '2025-03-01 00:00:00+00' AND created_at < '2025-04-01 00:00:00+00')) INHERITS (events);
CREATE UNIQUE INDEX ON events_2025_02 (id);
INSERT INTO events VALUES (1, '2025-02-10 12:00:00+00', 'planted');

CREATE TABLE accounts (id uuid, name text);
CREATE TABLE accounts_lo (CHECK (id < '80000000-0000-0000-0000-000000000000')) INHERITS (accounts);
CREATE TABLE accounts_hi (CHECK (id >= '80000000-0000-0000-0000-000000000000')) INHERITS (accounts);
INSERT INTO accounts VALUES ('c0000000-0000-0000-0000-000000000001', 'planted');

CREATE TABLE audit (id int, at date);
CREATE TABLE audit_h1 (CHECK (at >= '2025-01-01' AND at < '2025-07-01')) INHERITS (audit);
CREATE TABLE audit_h2 (CHECK (at >= '2025-07-01' AND at < '2026-01-01')) INHERITS (audit);
CREATE FUNCTION audit_route() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.at < '2025-07-01' THEN INSERT INTO audit_h1 VALUES (NEW.*);
  ELSE INSERT INTO audit_h2 VALUES (NEW.*);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_route BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_route();

-- Schema of the typed-key driver suites (pgjdbc, node-postgres): for each
-- key type a legacy parent l_<type> (children with CHECK constraints and an
-- IF/ELSIF insert trigger that raises check_violation for a row no child
-- takes) and a declarative parent d_<type>, both with children _a, _b, _c
-- over the same three ranges, and the same rows: every child bound, the
-- values 1 µs / 1 unit either side of it, and values around the 2025
-- daylight-saving changes of America/New_York (the suites run in UTC and in
-- that zone). Each legacy parent also holds one planted row (id 0) of its
-- own: the rules declare it empty, so a routed read never sees that row and
-- a passed-through one would; the suites' compared statements leave id 0
-- out so that both ways read the same rows.
DO $schema$
DECLARE
  t record;
  b text[];
  v text;
  n bigint;
  -- Numbers are written bare, everything else quoted, as a person would.
  lit text;
BEGIN
  FOR t IN SELECT * FROM (VALUES
    ('int8', 'bigint', false,
     ARRAY['0', '100', '100000', '10000000'], '4242',
     ARRAY['0', '1', '5', '6', '99', '100', '101', '500', '99998', '99999', '100000', '100001', '9999999']),
    ('int4', 'integer', false,
     ARRAY['0', '100', '100000', '10000000'], '4242',
     ARRAY['0', '1', '5', '6', '99', '100', '101', '500', '99998', '99999', '100000', '100001', '9999999']),
    ('numeric', 'numeric', false,
     ARRAY['0', '100', '1000.5', '100000'], '4242',
     ARRAY['0', '5', '99.999999', '100', '100.000001', '100.1', '1000', '1000.4999', '1000.5', '1000.5001', '99999.99']),
    ('ts', 'timestamp', true,
     ARRAY['2025-01-01 00:00:00', '2025-03-09 03:00:00', '2025-11-02 01:30:00', '2026-01-01 00:00:00'],
     '2025-06-15 12:00:00',
     ARRAY['2025-01-01 00:00:00', '2025-01-01 00:00:00.000001', '2025-03-08 23:59:59.999999',
           '2025-03-09 00:00:00', '2025-03-09 02:30:00', '2025-03-09 02:59:59.999999',
           '2025-03-09 03:00:00', '2025-03-09 03:00:00.000001', '2025-03-09 07:00:00',
           '2025-11-02 01:29:59.999999', '2025-11-02 01:30:00', '2025-11-02 01:30:00.000001',
           '2025-11-02 05:30:00', '2025-11-02 06:30:00', '2025-12-31 23:59:59.999999']),
    ('tstz', 'timestamptz', true,
     ARRAY['2025-01-01 00:00:00+00', '2025-03-09 07:00:00+00', '2025-11-02 06:00:00+00', '2026-01-01 00:00:00+00'],
     '2025-06-15 12:00:00+00',
     ARRAY['2025-01-01 00:00:00+00', '2025-01-01 05:00:00+00', '2025-03-09 03:00:00+00',
           '2025-03-09 06:59:59.999999+00', '2025-03-09 07:00:00+00', '2025-03-09 07:00:00.000001+00',
           '2025-03-09 08:00:00+00', '2025-11-02 05:30:00+00', '2025-11-02 05:59:59.999999+00',
           '2025-11-02 06:00:00+00', '2025-11-02 06:00:00.000001+00', '2025-11-02 06:30:00+00',
           '2025-12-31 23:59:59.999999+00']),
    ('date', 'date', true,
     ARRAY['2025-01-01', '2025-03-09', '2025-11-02', '2026-01-01'], '2025-06-15',
     ARRAY['2025-01-01', '2025-01-02', '2025-03-08', '2025-03-09', '2025-03-10',
           '2025-11-01', '2025-11-02', '2025-11-03', '2025-12-31']),
    ('text', 'text COLLATE "C"', true,
     ARRAY['a', 'g', 'p', '{'], 'kk',
     ARRAY['a', 'f', 'fzzz', 'g', 'g0', 'gg', 'o', 'ozz', 'p', 'p ', 'z', 'zzzz']),
    ('uuid', 'uuid', true,
     ARRAY['00000000-0000-0000-0000-000000000000', '40000000-0000-0000-0000-000000000000',
           '80000000-0000-0000-0000-000000000000', 'c0000000-0000-0000-0000-000000000000'],
     '50000000-0000-0000-0000-000000000005',
     ARRAY['00000000-0000-0000-0000-000000000000', '3fffffff-ffff-ffff-ffff-ffffffffffff',
           '40000000-0000-0000-0000-000000000000', '40000000-0000-0000-0000-000000000001',
           '7fffffff-ffff-ffff-ffff-ffffffffffff', '80000000-0000-0000-0000-000000000000',
           '80000000-0000-0000-0000-000000000001', 'bfffffff-ffff-ffff-ffff-ffffffffffff'])
  ) AS x(name, ty, quoted, bounds, planted, data)
  LOOP
    b := ARRAY(SELECT CASE WHEN t.quoted THEN quote_literal(e) ELSE e END FROM unnest(t.bounds) e);

    -- Legacy: CHECK constraints and the manual's IF/ELSIF trigger.
    EXECUTE format('CREATE TABLE l_%s (id bigint NOT NULL, k %s, note text)', t.name, t.ty);
    EXECUTE format('CREATE TABLE l_%1$s_a (CHECK (k >= %2$s AND k < %3$s)) INHERITS (l_%1$s)', t.name, b[1], b[2]);
    EXECUTE format('CREATE TABLE l_%1$s_b (CHECK (k >= %2$s AND k < %3$s)) INHERITS (l_%1$s)', t.name, b[2], b[3]);
    EXECUTE format('CREATE TABLE l_%1$s_c (CHECK (k >= %2$s AND k < %3$s)) INHERITS (l_%1$s)', t.name, b[3], b[4]);
    EXECUTE format($f$
      CREATE FUNCTION l_%1$s_insert() RETURNS trigger LANGUAGE plpgsql AS $t$
      BEGIN
        IF NEW.k >= %2$s AND NEW.k < %3$s THEN
          INSERT INTO l_%1$s_a VALUES (NEW.*);
        ELSIF NEW.k >= %3$s AND NEW.k < %4$s THEN
          INSERT INTO l_%1$s_b VALUES (NEW.*);
        ELSIF NEW.k >= %4$s AND NEW.k < %5$s THEN
          INSERT INTO l_%1$s_c VALUES (NEW.*);
        ELSE
          RAISE EXCEPTION 'no child of l_%1$s takes k = %%', NEW.k USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
      END $t$$f$, t.name, b[1], b[2], b[3], b[4]);
    EXECUTE format('CREATE TRIGGER l_%1$s_insert BEFORE INSERT ON l_%1$s FOR EACH ROW EXECUTE FUNCTION l_%1$s_insert()', t.name);

    -- Declarative: the same ranges.
    EXECUTE format('CREATE TABLE d_%s (id bigint NOT NULL, k %s, note text) PARTITION BY RANGE (k)', t.name, t.ty);
    EXECUTE format('CREATE TABLE d_%1$s_a PARTITION OF d_%1$s FOR VALUES FROM (%2$s) TO (%3$s)', t.name, b[1], b[2]);
    EXECUTE format('CREATE TABLE d_%1$s_b PARTITION OF d_%1$s FOR VALUES FROM (%2$s) TO (%3$s)', t.name, b[2], b[3]);
    EXECUTE format('CREATE TABLE d_%1$s_c PARTITION OF d_%1$s FOR VALUES FROM (%2$s) TO (%3$s)', t.name, b[3], b[4]);

    n := 0;
    FOREACH v IN ARRAY t.data LOOP
      n := n + 1;
      lit := CASE WHEN t.quoted THEN quote_literal(v) ELSE v END;
      EXECUTE format('INSERT INTO l_%s (id, k, note) VALUES (%s, %s, %L)', t.name, n, lit, 'row ' || n);
      EXECUTE format('INSERT INTO d_%s (id, k, note) VALUES (%s, %s, %L)', t.name, n, lit, 'row ' || n);
    END LOOP;

    -- The planted row, past the trigger, in the legacy parent itself.
    lit := CASE WHEN t.quoted THEN quote_literal(t.planted) ELSE t.planted END;
    EXECUTE format('ALTER TABLE l_%1$s DISABLE TRIGGER l_%1$s_insert', t.name);
    EXECUTE format('INSERT INTO l_%s (id, k, note) VALUES (0, %s, %L)', t.name, lit, 'planted');
    EXECUTE format('ALTER TABLE l_%1$s ENABLE TRIGGER l_%1$s_insert', t.name);
  END LOOP;
END
$schema$;

// pgjdbc through the proxy, compared with PostgreSQL itself: partition keys of
// every type (keys.sql) bound with the Java types applications use, including
// ones the key's type disagrees with, on a legacy and a declarative parent.
// Every check runs the same statement with the same values through the proxy
// and straight to PostgreSQL and compares the answers (rows, row counts, the
// child an inserted row landed in, SQLSTATE). Run in the session TimeZone of
// the JVM (-Duser.timezone), which pgjdbc sends at startup.
//
// Environment: PROXY_DSN, DIRECT_DSN (JDBC URLs with user and password);
// SUITE_VERBOSE=1 prints every check.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

public final class PgjdbcSuite {
    /** SQL NULL bound with setNull and this JDBC type. */
    record NullOf(int sqlType, String name) {
        @Override
        public String toString() {
            return "setNull(" + name + ")";
        }
    }

    /** A one-element array bound with setArray for `= ANY(?)`. */
    record ArrayOf(String type, Object element) {}

    /** A key type: its parents' suffix, values to bind, the planted row's key. */
    record KeyType(String name, List<Object> probes, Object planted) {}

    /** One side of the comparison: a connection and its statements by SQL. */
    static final class Side {
        final String url;
        Connection conn;
        final Map<String, PreparedStatement> statements = new HashMap<>();

        Side(String url) throws SQLException {
            this.url = url;
            conn = DriverManager.getConnection(url);
        }

        /** After a statement got no answer in time: pgjdbc closed the connection. */
        String lost(SQLException e) {
            try {
                statements.clear();
                conn = DriverManager.getConnection(url);
            } catch (SQLException again) {
                throw new IllegalStateException("cannot reconnect: " + again, again);
            }
            return "no answer within " + TIMEOUT_SECS + " s (" + e.getSQLState() + ")";
        }

        // Reused per SQL text, so that with prepareThreshold=1 one named
        // server statement is bound again and again with new values.
        PreparedStatement prepare(String sql) throws SQLException {
            PreparedStatement ps = statements.get(sql);
            if (ps == null) {
                ps = conn.prepareStatement(sql);
                statements.put(sql, ps);
            }
            return ps;
        }
    }

    /** A statement without an answer this long counts as failed (pgjdbc's socketTimeout). */
    static final int TIMEOUT_SECS = 5;

    static int passed = 0;
    static final List<String> failures = new ArrayList<>();

    static OffsetDateTime odt(String s) {
        return OffsetDateTime.parse(s);
    }

    static LocalDateTime ldt(String s) {
        return LocalDateTime.parse(s);
    }

    static LocalDate ld(String s) {
        return LocalDate.parse(s);
    }

    static BigDecimal bd(String s) {
        return new BigDecimal(s);
    }

    static UUID uuid(String s) {
        return UUID.fromString(s);
    }

    /** A java.sql.Timestamp for an instant (pgjdbc sends it untyped, in the JVM's zone). */
    static Timestamp instant(String s) {
        return Timestamp.from(Instant.parse(s));
    }

    static List<Object> integerProbes(boolean int4) {
        List<Object> p = new ArrayList<>(List.of(
                -1L, 0L, bd("5.0"), bd("5.5"), 99L, 100, bd("100.0"), 101L, 99998.0,
                bd("99999"), bd("99999.5"), 99999L, bd("99999.9999999"), 100000L, 100001,
                9999999L, 10000000L, bd("99999999999999999999"),
                new NullOf(int4 ? Types.INTEGER : Types.BIGINT, int4 ? "INTEGER" : "BIGINT"), "100"));
        if (int4) {
            p.add(3000000000L);
        }
        return p;
    }

    static List<KeyType> keyTypes() {
        return List.of(
                new KeyType("int8", integerProbes(false), 4242L),
                new KeyType("int4", integerProbes(true), 4242),
                new KeyType("numeric", List.of(
                        bd("0"), bd("99.999999"), 100L, bd("100.000"), bd("100.000001"), 100.1,
                        1000, bd("1000.4999"), bd("1000.5"), bd("1000.50"), 1000.5, bd("1000.5001"),
                        100000L, bd("-0.000001"), new NullOf(Types.NUMERIC, "NUMERIC"), "100"),
                        bd("4242")),
                new KeyType("ts", List.of(
                        ldt("2024-12-31T23:59:59.999999"), ldt("2025-01-01T00:00"),
                        ldt("2025-03-08T23:59:59.999999"), ld("2025-03-09"),
                        ldt("2025-03-09T02:59:59.999999"), ldt("2025-03-09T02:59:59.999999500"),
                        ldt("2025-03-09T03:00"), ldt("2025-03-09T03:00:00.000001"),
                        odt("2025-03-09T03:00Z"), odt("2025-03-09T06:59:59.999999Z"), odt("2025-03-09T07:00Z"),
                        odt("2025-03-09T03:00-04:00"), instant("2025-03-09T03:00:00Z"),
                        instant("2025-03-09T07:00:00Z"), instant("2025-03-09T08:00:00Z"),
                        ldt("2025-11-02T01:29:59.999999"), ldt("2025-11-02T01:30"), odt("2025-11-02T01:30Z"),
                        odt("2025-11-02T05:30Z"), odt("2025-11-02T06:30Z"), instant("2025-11-02T06:30:00Z"),
                        ld("2025-11-02"), ldt("2025-12-31T23:59:59.999999"), ldt("2026-01-01T00:00"),
                        LocalDateTime.MAX, new NullOf(Types.TIMESTAMP, "TIMESTAMP"), "2025-03-09 03:00:00"),
                        ldt("2025-06-15T12:00")),
                new KeyType("tstz", List.of(
                        odt("2024-12-31T23:59:59.999999Z"), odt("2025-01-01T00:00Z"),
                        odt("2024-12-31T19:00-05:00"), ldt("2025-01-01T00:00"), ld("2025-01-01"),
                        odt("2025-03-09T06:59:59.999999Z"), odt("2025-03-09T07:00Z"),
                        odt("2025-03-09T07:00:00.000001Z"), ldt("2025-03-09T02:00"), ldt("2025-03-09T02:30"),
                        ldt("2025-03-09T03:00"), instant("2025-03-09T07:00:00Z"), ld("2025-03-09"),
                        ldt("2025-11-02T01:00"), ldt("2025-11-02T01:30"), odt("2025-11-02T05:59:59.999999Z"),
                        odt("2025-11-02T06:00Z"), instant("2025-11-02T06:00:00Z"), ld("2025-11-02"),
                        odt("2025-12-31T23:59:59.999999Z"), odt("2026-01-01T00:00Z"),
                        new NullOf(Types.TIMESTAMP_WITH_TIMEZONE, "TIMESTAMP_WITH_TIMEZONE"), "2025-03-09 07:00:00+00"),
                        odt("2025-06-15T12:00Z")),
                new KeyType("date", List.of(
                        ld("2024-12-31"), ld("2025-01-01"), ld("2025-03-08"), ldt("2025-03-08T23:59:59.999999"),
                        ld("2025-03-09"), ldt("2025-03-09T00:00"), ldt("2025-03-09T00:00:00.000001"),
                        odt("2025-03-09T00:00Z"), odt("2025-03-09T05:00Z"), instant("2025-03-09T00:00:00Z"),
                        instant("2025-03-09T05:00:00Z"), ld("2025-11-01"), ld("2025-11-02"),
                        odt("2025-11-02T04:00Z"), ld("2025-12-31"), ld("2026-01-01"), LocalDate.MAX,
                        new NullOf(Types.DATE, "DATE"), "2025-03-09"),
                        ld("2025-06-15")),
                new KeyType("text", List.of(
                        "", "G", "a", "f", "fzzz", "g", "g0", "o", "ozz", "p", "p ", "z", "{", "é",
                        new NullOf(Types.VARCHAR, "VARCHAR"), 5),
                        "kk"),
                new KeyType("uuid", List.of(
                        uuid("00000000-0000-0000-0000-000000000000"), uuid("3fffffff-ffff-ffff-ffff-ffffffffffff"),
                        uuid("40000000-0000-0000-0000-000000000000"), uuid("40000000-0000-0000-0000-000000000001"),
                        uuid("7fffffff-ffff-ffff-ffff-ffffffffffff"), uuid("80000000-0000-0000-0000-000000000000"),
                        uuid("80000000-0000-0000-0000-000000000001"), uuid("bfffffff-ffff-ffff-ffff-ffffffffffff"),
                        uuid("c0000000-0000-0000-0000-000000000000"), uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                        new NullOf(Types.OTHER, "OTHER"), "40000000-0000-0000-0000-000000000000"),
                        uuid("50000000-0000-0000-0000-000000000005")));
    }

    /** What was bound, for failure reports: the Java type and the value. */
    static String describe(Object v) {
        if (v instanceof NullOf) {
            return v.toString();
        }
        if (v instanceof ArrayOf a) {
            return "Array " + a.type() + "[] {" + describe(a.element()) + "}";
        }
        if (v instanceof Timestamp t) {
            return "Timestamp " + t + " (" + t.toInstant() + ")";
        }
        if (v instanceof String s) {
            return "String \"" + s + "\"";
        }
        return v.getClass().getSimpleName() + " " + v;
    }

    /** The array element type pgjdbc is asked for, after the Java type. */
    static String arrayType(Object v) {
        if (v instanceof Long) return "int8";
        if (v instanceof Integer) return "int4";
        if (v instanceof BigDecimal) return "numeric";
        if (v instanceof Double) return "float8";
        if (v instanceof UUID) return "uuid";
        if (v instanceof LocalDate) return "date";
        if (v instanceof LocalDateTime) return "timestamp";
        if (v instanceof OffsetDateTime || v instanceof Timestamp) return "timestamptz";
        if (v instanceof NullOf n) {
            return switch (n.sqlType()) {
                case Types.BIGINT -> "int8";
                case Types.INTEGER -> "int4";
                case Types.NUMERIC -> "numeric";
                case Types.TIMESTAMP -> "timestamp";
                case Types.TIMESTAMP_WITH_TIMEZONE -> "timestamptz";
                case Types.DATE -> "date";
                case Types.OTHER -> "uuid";
                default -> "varchar";
            };
        }
        return "varchar";
    }

    static void bind(PreparedStatement ps, int i, Object v) throws SQLException {
        if (v instanceof NullOf n) {
            ps.setNull(i, n.sqlType());
        } else if (v instanceof ArrayOf a) {
            Object element = a.element() instanceof NullOf ? null : a.element();
            ps.setArray(i, ps.getConnection().createArrayOf(a.type(), new Object[] {element}));
        } else if (v instanceof Timestamp t) {
            ps.setTimestamp(i, t);
        } else if (v instanceof BigDecimal d) {
            ps.setBigDecimal(i, d);
        } else if (v instanceof Long l) {
            ps.setLong(i, l);
        } else if (v instanceof Integer n) {
            ps.setInt(i, n);
        } else if (v instanceof Double d) {
            ps.setDouble(i, d);
        } else if (v instanceof String s) {
            ps.setString(i, s);
        } else {
            ps.setObject(i, v); // OffsetDateTime, LocalDate, LocalDateTime, UUID: pgjdbc's own types
        }
    }

    enum Kind { ROWS, COUNT, LANDED }

    /** Writes are rolled back, so every check sees the rows keys.sql made. */
    static void endTransaction(Side side) {
        try {
            if (!side.conn.isClosed() && !side.conn.getAutoCommit()) {
                side.conn.rollback();
                side.conn.setAutoCommit(true);
            }
        } catch (SQLException e) {
            failures.add("rollback failed: " + e);
        }
    }

    static boolean isClosed(Side side) {
        try {
            return side.conn.isClosed();
        } catch (SQLException e) {
            return true;
        }
    }

    /** Runs one statement on one side and says what came back. */
    static String run(Side side, Kind kind, String parent, String sql, List<Object> params) {
        try {
            if (kind != Kind.ROWS) {
                side.conn.setAutoCommit(false);
            }
            PreparedStatement ps = side.prepare(sql);
            for (int i = 0; i < params.size(); i++) {
                bind(ps, i + 1, params.get(i));
            }
            switch (kind) {
                case ROWS: {
                    StringBuilder out = new StringBuilder("rows [");
                    try (ResultSet rs = ps.executeQuery()) {
                        boolean first = true;
                        while (rs.next()) {
                            out.append(first ? "" : ", ").append(rs.getLong(1)).append(':').append(rs.getString(2));
                            first = false;
                        }
                    }
                    return out.append(']').toString();
                }
                case COUNT:
                    return "count " + ps.executeUpdate();
                default: {
                    // Not the count: a legacy trigger stores the row itself and
                    // PostgreSQL reports INSERT 0 0, the proxy the row it stored.
                    ps.executeUpdate();
                    PreparedStatement where = side.prepare(
                            "SELECT tableoid::regclass::text FROM " + parent + " WHERE id >= 1000000 ORDER BY id");
                    List<String> tables = new ArrayList<>();
                    try (ResultSet rs = where.executeQuery()) {
                        while (rs.next()) {
                            tables.add(rs.getString(1));
                        }
                    }
                    return "landed in " + tables;
                }
            }
        } catch (SQLException e) {
            if (isClosed(side)) {
                return side.lost(e);
            }
            return "error " + e.getSQLState();
        } finally {
            endTransaction(side);
        }
    }

    static final boolean VERBOSE = "1".equals(System.getenv("SUITE_VERBOSE"));

    static String bound(List<Object> params) {
        StringBuilder out = new StringBuilder();
        for (Object p : params) {
            out.append(out.length() == 0 ? "" : ", ").append(describe(p));
        }
        return out.toString();
    }

    static void compare(String what, List<Object> params, String proxy, String direct) {
        if (proxy.equals(direct)) {
            passed++;
            if (VERBOSE) {
                System.out.println("ok " + what + " | " + bound(params) + " | " + direct);
            }
        } else {
            failures.add(what + "\n    bound:      " + bound(params) + "\n    proxy:      " + proxy
                    + "\n    postgresql: " + direct);
        }
    }

    /** Runs a statement both ways and compares; returns PostgreSQL's answer. */
    static String check(Side proxy, Side direct, String mode, Kind kind, String parent, String sql,
            List<Object> params) {
        String p = run(proxy, kind, parent, sql, params);
        String d = run(direct, kind, parent, sql, params);
        compare(mode + " " + sql, params, p, d);
        return d;
    }

    /** addBatch/executeBatch of rows both sides take: each row in the same child. */
    static void batch(Side proxy, Side direct, String mode, String parent, List<Object> keys) {
        String sql = "INSERT INTO " + parent + " (id, k, note) VALUES (?, ?, 'batch')";
        List<String> answers = new ArrayList<>();
        for (Side side : List.of(proxy, direct)) {
            String answer;
            try {
                side.conn.setAutoCommit(false);
                PreparedStatement ps = side.prepare(sql);
                for (int i = 0; i < keys.size(); i++) {
                    ps.setLong(1, 1000000 + i);
                    bind(ps, 2, keys.get(i));
                    ps.addBatch();
                }
                ps.executeBatch(); // counts differ by design on legacy parents, as above
                List<String> tables = new ArrayList<>();
                try (ResultSet rs = side.conn.createStatement().executeQuery(
                        "SELECT tableoid::regclass::text FROM " + parent + " WHERE id >= 1000000 ORDER BY id")) {
                    while (rs.next()) {
                        tables.add(rs.getString(1));
                    }
                }
                answer = "batch of " + keys.size() + " landed in " + tables;
            } catch (SQLException e) {
                answer = isClosed(side) ? side.lost(e) : "error " + e.getSQLState();
            } finally {
                endTransaction(side);
            }
            answers.add(answer);
        }
        compare(mode + " executeBatch " + sql, keys, answers.get(0), answers.get(1));
    }

    public static void main(String[] args) throws Exception {
        String proxyUrl = System.getenv("PROXY_DSN");
        String directUrl = System.getenv("DIRECT_DSN");
        String zone = ZoneId.systemDefault().getId();
        String version = null;
        // Unnamed statements (a Parse per execution), then named ones bound
        // again and again (and batches rewritten into multi-row INSERTs).
        for (String mode : List.of("prepareThreshold=0", "prepareThreshold=1&reWriteBatchedInserts=true")) {
            String options = "&socketTimeout=" + TIMEOUT_SECS + "&" + mode;
            Side proxy = new Side(proxyUrl + options);
            Side direct = new Side(directUrl + options);
            version = proxy.conn.getMetaData().getDriverVersion();
            String tag = "[" + mode + ", " + zone + "]";
            for (KeyType t : keyTypes()) {
                for (String parent : List.of("l_" + t.name(), "d_" + t.name())) {
                    List<Object> probes = t.probes();
                    List<Object> landing = new ArrayList<>();
                    String select = "SELECT id, k::text FROM " + parent + " WHERE ";
                    for (int i = 0; i < probes.size(); i++) {
                        Object v = probes.get(i);
                        Object prev = probes.get(i == 0 ? probes.size() - 1 : i - 1);
                        check(proxy, direct, tag, Kind.ROWS, parent, select + "k = ? AND id > 0 ORDER BY id", List.of(v));
                        check(proxy, direct, tag, Kind.ROWS, parent, select + "k < ? AND id > 0 ORDER BY id", List.of(v));
                        check(proxy, direct, tag, Kind.ROWS, parent, select + "k >= ? AND id > 0 ORDER BY id", List.of(v));
                        check(proxy, direct, tag, Kind.ROWS, parent,
                                select + "k BETWEEN ? AND ? AND id > 0 ORDER BY id", List.of(prev, v));
                        check(proxy, direct, tag, Kind.ROWS, parent,
                                select + "k IN (?, ?) AND id > 0 ORDER BY id", List.of(prev, v));
                        check(proxy, direct, tag, Kind.ROWS, parent, select + "k = ANY(?) AND id > 0 ORDER BY id",
                                List.of(new ArrayOf(arrayType(v), v)));
                        check(proxy, direct, tag, Kind.COUNT, parent,
                                "UPDATE " + parent + " SET note = 'updated' WHERE k = ? AND id > 0", List.of(v));
                        check(proxy, direct, tag, Kind.COUNT, parent,
                                "DELETE FROM " + parent + " WHERE k < ? AND id > 0", List.of(v));
                        String d = check(proxy, direct, tag, Kind.LANDED, parent,
                                "INSERT INTO " + parent + " (id, k, note) VALUES (1000000, ?, 'inserted')", List.of(v));
                        if (d.startsWith("landed in [") && !d.equals("landed in []")) {
                            landing.add(v);
                        }
                    }
                    batch(proxy, direct, tag, parent, landing);
                    if (parent.startsWith("l_")) {
                        // Routing evidence: the planted row in the parent itself.
                        String sql = "SELECT id, k::text FROM " + parent + " WHERE k = ? ORDER BY id";
                        String p = run(proxy, Kind.ROWS, parent, sql, List.of(t.planted()));
                        String d = run(direct, Kind.ROWS, parent, sql, List.of(t.planted()));
                        String what = tag + " routed: a read through the proxy skips the parent's planted row: " + sql;
                        if (d.startsWith("rows [0:") && p.equals("rows []")) {
                            passed++;
                        } else {
                            failures.add(what + "\n    bound:      " + bound(List.of(t.planted()))
                                    + "\n    proxy:      " + p + " (routed: rows [])\n    postgresql: " + d);
                        }
                    }
                }
            }
            proxy.conn.close();
            direct.conn.close();
        }
        for (String f : failures) {
            System.out.println("MISMATCH " + f);
        }
        if (!failures.isEmpty()) {
            System.out.println("pgjdbc " + version + " (" + zone + "): " + failures.size() + " of "
                    + (passed + failures.size()) + " checks FAILED");
            System.exit(1);
        }
        System.out.println("pgjdbc " + version + " (" + zone + "): " + passed + " checks passed");
    }
}

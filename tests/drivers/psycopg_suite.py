"""psycopg 3 through the proxy: server-side binding (prepare=True), binary
parameters, executemany, pipeline mode, refusals. Every check looks at the
rows returned and at the child each written row landed in."""

import datetime as dt
import os
import uuid

import psycopg
from psycopg import errors

PROXY = os.environ["PROXY_DSN"]
DIRECT = os.environ["DIRECT_DSN"]
UTC = dt.timezone.utc
passed = 0


def ok(what):
    global passed
    passed += 1
    print("ok:", what, flush=True)


def ts(month, day, hour=12):
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


direct = psycopg.connect(DIRECT, autocommit=True)


def placed(table, ids):
    return direct.execute(
        f"SELECT id, tableoid::regclass::text FROM {table} WHERE id = ANY(%s) ORDER BY id",
        (ids,),
    ).fetchall()


with psycopg.connect(PROXY) as conn:
    # Named server-side prepared statements, text and binary parameters.
    for _ in range(3):
        rows = conn.execute(
            "SELECT id FROM events WHERE created_at = %s", (ts(2, 10),), prepare=True
        ).fetchall()
        assert rows == [], rows  # the planted parent row is not read: routed
    conn.execute(
        "INSERT INTO events (id, created_at, note) VALUES (%s, %s, %s)",
        (10, ts(1, 5), "text"),
        prepare=True,
    )
    conn.execute(
        "INSERT INTO events (id, created_at, note) VALUES (%b, %b, %b)",
        (11, ts(3, 5), "binary"),
        prepare=True,
    )
    conn.commit()
    assert placed("events", [10, 11]) == [(10, "events_2025_01"), (11, "events_2025_03")]
    rows = conn.execute(
        "SELECT id FROM events WHERE created_at >= %b AND created_at < %b ORDER BY id",
        (ts(1, 1, 0), ts(2, 1, 0)),
        prepare=True,
    ).fetchall()
    assert rows == [(10,)], rows
    conn.commit()
    ok("prepare=True with text and binary parameters")

    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO events (id, created_at, note) VALUES (%s, %s, %s)",
            [(20 + i, ts(1 + i % 3, 1 + i), f"many {i}") for i in range(9)],
        )
    conn.commit()
    got = placed("events", list(range(20, 29)))
    assert got == [(20 + i, f"events_2025_0{1 + i % 3}") for i in range(9)], got
    ok("executemany into the parent")

    rows = conn.execute(
        "INSERT INTO events (id, created_at, note) VALUES (%s, %s, 'x'), (%s, %s, 'y'), (%s, %s, 'z') RETURNING id",
        (31, ts(3, 1), 32, ts(1, 1), 33, ts(3, 2)),
    ).fetchall()
    assert rows == [(31,), (32,), (33,)], rows
    conn.commit()
    assert placed("events", [31, 32, 33]) == [
        (31, "events_2025_03"),
        (32, "events_2025_01"),
        (33, "events_2025_03"),
    ]
    ok("multi-row INSERT with parameters split over children, RETURNING in order")

    with conn.pipeline():
        inserted = conn.execute(
            "INSERT INTO events (id, created_at) VALUES (%s, %s) RETURNING id", (40, ts(2, 1))
        )
        counted = conn.execute(
            "SELECT count(*) FROM events WHERE created_at = %s", (ts(2, 1),)
        )
    conn.commit()
    assert inserted.fetchone() == (40,)
    assert counted.fetchone() == (1,)
    assert placed("events", [40]) == [(40, "events_2025_02")]
    try:
        with conn.pipeline():
            conn.execute("INSERT INTO events (id, created_at) VALUES (%s, %s)", (41, ts(2, 2)))
            # Duplicate id in events_2025_02 (unique index): fails part-way.
            conn.execute("INSERT INTO events (id, created_at) VALUES (%s, %s)", (40, ts(2, 3)))
            conn.execute("INSERT INTO events (id, created_at) VALUES (%s, %s)", (42, ts(2, 4)))
    except errors.UniqueViolation:
        pass
    else:
        raise AssertionError("the duplicate went unnoticed")
    conn.rollback()
    assert placed("events", [41, 42]) == []
    assert conn.execute("SELECT 1").fetchone() == (1,)
    conn.commit()
    ok("pipeline mode, with an error part-way")

    try:
        conn.execute("INSERT INTO events (id, created_at) VALUES (%s, %s)", (50, None))
    except errors.CheckViolation as e:
        assert "events" in str(e), e
    else:
        raise AssertionError("a row no child accepts was not refused")
    conn.rollback()
    assert placed("events", [50]) == []
    ok("a row no child accepts is refused with 23514")

    low = uuid.UUID("10000000-0000-0000-0000-000000000001")
    conn.execute("INSERT INTO accounts VALUES (%s, %s)", (low, "low"), prepare=True)
    conn.commit()
    assert direct.execute(
        "SELECT tableoid::regclass::text FROM accounts WHERE id = %s", (low,)
    ).fetchall() == [("accounts_lo",)]
    planted = uuid.UUID("c0000000-0000-0000-0000-000000000001")
    rows = conn.execute("SELECT name FROM accounts WHERE id = %s", (planted,), prepare=True).fetchall()
    assert rows == [], rows
    rows = conn.execute("SELECT name FROM accounts WHERE id = %s", (low,), prepare=True).fetchall()
    assert rows == [("low",)], rows
    conn.commit()
    ok("uuid keys")

print(f"psycopg {psycopg.__version__}: {passed} checks passed")

"""asyncpg through the proxy: its binary protocol, prepared statements,
executemany into a parent, a refused row inside a transaction, and COPY
(which passes through to the parent's trigger). Every check looks at the rows
returned and at the child each written row landed in."""

import asyncio
import datetime as dt
import os
import uuid

import asyncpg

PROXY = os.environ["PROXY_DSN"]
DIRECT = os.environ["DIRECT_DSN"]
UTC = dt.timezone.utc


def ts(month, day, hour=12):
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


async def main():
    passed = 0

    def ok(what):
        nonlocal passed
        passed += 1
        print("ok:", what, flush=True)

    direct = await asyncpg.connect(DIRECT)
    conn = await asyncpg.connect(PROXY)

    async def placed(table, ids):
        rows = await direct.fetch(
            f"SELECT id, tableoid::regclass::text AS t FROM {table} WHERE id = ANY($1::int8[]) ORDER BY id",
            ids,
        )
        return [(r["id"], r["t"]) for r in rows]

    rows = await conn.fetch("SELECT id FROM events WHERE created_at = $1", ts(2, 10))
    assert rows == [], rows  # the planted parent row is not read: routed
    await conn.execute(
        "INSERT INTO events (id, created_at, note) VALUES ($1, $2, $3)", 100, ts(1, 7), "one"
    )
    stmt = await conn.prepare(
        "SELECT id FROM events WHERE created_at >= $1 AND created_at < $2 AND id >= 100 ORDER BY id"
    )
    for _ in range(3):
        got = [r["id"] for r in await stmt.fetch(ts(1, 1, 0), ts(2, 1, 0))]
        assert got == [100], got
    assert await placed("events", [100]) == [(100, "events_2025_01")]
    ok("binary protocol, prepared statements")

    await conn.executemany(
        "INSERT INTO events (id, created_at, note) VALUES ($1, $2, $3)",
        [(110 + i, ts(1 + i % 3, 1 + i), f"many {i}") for i in range(9)],
    )
    got = await placed("events", list(range(110, 119)))
    assert got == [(110 + i, f"events_2025_0{1 + i % 3}") for i in range(9)], got
    ok("executemany into the parent")

    rows = await conn.fetch(
        "INSERT INTO events (id, created_at) VALUES ($1, $2), ($3, $4) RETURNING id",
        121, ts(3, 1), 122, ts(1, 1),
    )
    assert [r["id"] for r in rows] == [121, 122], rows
    assert await placed("events", [121, 122]) == [(121, "events_2025_03"), (122, "events_2025_01")]
    ok("multi-row INSERT split over children, RETURNING in order")

    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO events (id, created_at) VALUES ($1, $2)", 130, ts(1, 3))
            await conn.execute("INSERT INTO events (id, created_at) VALUES ($1, $2)", 131, None)
    except asyncpg.CheckViolationError as e:
        assert "events" in str(e), e
    else:
        raise AssertionError("a row no child accepts was not refused")
    assert await placed("events", [130, 131]) == []
    ok("a refused row rolls its transaction back")

    high = uuid.UUID("90000000-0000-0000-0000-000000000009")
    await conn.execute("INSERT INTO accounts VALUES ($1, $2)", high, "high")
    assert await direct.fetchval(
        "SELECT tableoid::regclass::text FROM accounts WHERE id = $1", high
    ) == "accounts_hi"
    planted = uuid.UUID("c0000000-0000-0000-0000-000000000001")
    assert await conn.fetch("SELECT name FROM accounts WHERE id = $1", planted) == []
    assert await conn.fetchval("SELECT name FROM accounts WHERE id = $1", high) == "high"
    ok("uuid keys")

    result = await conn.copy_records_to_table(
        "audit", records=[(1, dt.date(2025, 3, 1)), (2, dt.date(2025, 9, 1))]
    )
    # PostgreSQL does not count rows its trigger diverted, directly or not.
    assert result == "COPY 0", result
    rows = await direct.fetch("SELECT id, tableoid::regclass::text AS t FROM audit ORDER BY id")
    assert [(r["id"], r["t"]) for r in rows] == [(1, "audit_h1"), (2, "audit_h2")], rows
    ok("copy_records_to_table passes through to the parent's trigger")

    await conn.close()
    await direct.close()
    print(f"asyncpg {asyncpg.__version__}: {passed} checks passed")


asyncio.run(main())

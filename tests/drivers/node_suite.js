// node-postgres through the proxy, compared with PostgreSQL itself: partition
// keys of every type (keys.sql) bound as the JavaScript values applications
// pass (Date, string, number, BigInt, null, arrays), on a legacy and a
// declarative parent, in unnamed and in named prepared statements. node-postgres
// sends every value as untyped text, so the server types it from the key;
// statements that cast the parameter ($1::numeric against a bigint key, ...)
// bind a type the key disagrees with. Every check runs the same statement
// through the proxy and straight to PostgreSQL and compares the answers
// (rows, row counts, the child an inserted row landed in, SQLSTATE).
//
// Environment: PROXY_DSN, DIRECT_DSN (postgresql:// URLs); TZ, the zone used
// both for the session TimeZone and for the local time node-postgres writes
// Dates in; SUITE_VERBOSE=1 prints every check.

'use strict'

const pg = require('pg')

const ZONE = process.env.TZ || 'UTC'
const VERBOSE = process.env.SUITE_VERBOSE === '1'

const d = (iso) => new Date(iso)

// Values to bind per key type, roughly ascending so that each one and the
// one before it make a range (BETWEEN, IN); `casts` are types the statements
// also cast the parameter to; `planted` is the key of the legacy parent's own row.
const KEY_TYPES = [
  {
    name: 'int8',
    casts: ['numeric'],
    planted: 4242,
    probes: [-1, 0, 5, 5.5, '5.0', 99, 100, 100n, '100', ' 100 ', '+100', 101, 99999, 99999.5, '99999',
      100000, 100001n, 9999999, 10000000n, '99999999999999999999', 1e21, null],
  },
  {
    name: 'int4',
    casts: ['numeric', 'bigint'],
    planted: 4242,
    probes: [-1, 0, 5, 5.5, '5.0', 99, 100, 100n, '100', ' 100 ', '+100', 101, 99999, 99999.5, '99999',
      100000, 100001n, 9999999, 10000000n, 3000000000, null],
  },
  {
    name: 'numeric',
    casts: ['bigint', 'float8'],
    planted: '4242',
    probes: [-0.000001, 1e-7, 0, '99.999999', 100, '100.000', '100.000001', 100.1, 1000, '1000.4999', 1000.5,
      '1000.50', '1e3', '1000.5001', 100000n, 'NaN', null],
  },
  {
    name: 'ts',
    casts: ['timestamptz', 'date'],
    planted: '2025-06-15 12:00:00',
    probes: [d('2024-12-31T23:59:59.999Z'), d('2025-01-01T00:00:00Z'), d('2025-01-01T05:00:00Z'),
      '2025-03-08 23:59:59.999999', '2025-03-09', '2025-03-09 02:59:59.999999', '2025-03-09 03:00:00',
      '2025-03-09 03:00:00.000001', '2025-03-09 03:00:00-05', '2025-03-09T03:00:00Z',
      d('2025-03-09T06:59:59.999Z'), d('2025-03-09T07:00:00Z'), d('2025-03-09T08:00:00Z'),
      '2025-11-02 01:29:59.999999', '2025-11-02 01:30', d('2025-11-02T05:30:00Z'), d('2025-11-02T06:30:00Z'),
      '2025-12-31 23:59:59.999999', '2026-01-01 00:00:00', 'infinity', '-infinity', 'epoch', null],
  },
  {
    name: 'tstz',
    casts: ['timestamp', 'date'],
    planted: '2025-06-15 12:00:00+00',
    probes: [d('2024-12-31T23:59:59.999Z'), d('2025-01-01T00:00:00Z'), '2025-01-01', '2025-01-01 00:00:00',
      '2025-03-09 06:59:59.999999+00', d('2025-03-09T06:59:59.999Z'), d('2025-03-09T07:00:00Z'),
      '2025-03-09 07:00:00+00', '2025-03-09 07:00:00.000001+00', d('2025-03-09T07:00:00.001Z'),
      '2025-03-09 02:00', '2025-03-09 02:30', '2025-03-09 03:00', '2025-03-09 03:00:00 America/New_York',
      '2025-11-02 01:00', '2025-11-02 01:30', '2025-11-02 01:30 EST', d('2025-11-02T05:59:59.999Z'),
      d('2025-11-02T06:00:00Z'), d('2025-12-31T23:59:59.999Z'), d('2026-01-01T00:00:00Z'), 'infinity', null],
  },
  {
    name: 'date',
    casts: ['timestamp', 'timestamptz'],
    planted: '2025-06-15',
    probes: ['2024-12-31', '2025-01-01', d('2025-01-01T00:00:00Z'), '2025-03-08', d('2025-03-09T00:00:00Z'),
      d('2025-03-09T05:00:00Z'), '2025-03-09', '2025-03-09 12:00', '20250309', '03/09/2025', '2025-03-10',
      '2025-11-01', '2025-11-02', d('2025-11-02T04:00:00Z'), '2025-12-31', '2026-01-01', 'infinity', null],
  },
  {
    name: 'text',
    casts: ['varchar'],
    planted: 'kk',
    probes: ['', 5, 'G', 'a', 'f', 'fzzz', 'g', 'g0', 'o', 'ozz', 'p', 'p ', 'z', '{', 'é', null],
  },
  {
    name: 'uuid',
    casts: ['uuid'],
    planted: '50000000-0000-0000-0000-000000000005',
    probes: ['00000000-0000-0000-0000-000000000000', '3fffffff-ffff-ffff-ffff-ffffffffffff',
      '40000000-0000-0000-0000-000000000000', '40000000-0000-0000-0000-000000000001',
      '7FFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '{80000000-0000-0000-0000-000000000000}',
      '80000000000000000000000000000001', 'bfffffff-ffff-ffff-ffff-ffffffffffff',
      'c0000000-0000-0000-0000-000000000000', 'not-a-uuid', null],
  },
]

/** What was bound, for failure reports: the JavaScript type and the value. */
function describe(v) {
  if (v === null) return 'null'
  if (v instanceof Date) return `Date ${v.toISOString()}`
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`
  if (typeof v === 'bigint') return `BigInt ${v}n`
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`
  return `${typeof v} ${v}`
}

// One name per statement text, so a named statement is parsed once per
// connection and bound again with each new value.
const names = new Map()
function nameOf(text) {
  if (!names.has(text)) names.set(text, `suite_${names.size}`)
  return names.get(text)
}

// A statement without an answer this long counts as failed; the connection
// is then replaced, as its replies can no longer be told apart.
const TIMEOUT_MS = 5000

/** One side of the comparison: its URL and current connection. */
class Side {
  constructor(url) {
    this.url = url
  }

  async connect() {
    this.client = new pg.Client({ connectionString: this.url, options: `-c TimeZone=${ZONE}`, query_timeout: TIMEOUT_MS })
    this.client.on('error', () => {}) // a dropped connection shows as the next query's error
    await this.client.connect()
  }

  async lost() {
    this.client.connection.stream.destroy()
    await this.connect()
    return `no answer within ${TIMEOUT_MS / 1000} s`
  }
}

async function run(side, named, kind, parent, text, values) {
  const client = side.client
  const query = named ? { name: nameOf(text), text, values } : { text, values }
  let lost = false
  try {
    if (kind !== 'rows') await client.query('BEGIN')
    const r = await client.query(query)
    if (kind === 'rows') return `rows [${r.rows.map((x) => `${x.id}:${x.k}`).join(', ')}]`
    if (kind === 'count') return `count ${r.rowCount}`
    // Not the INSERT's count: a legacy trigger stores the row itself and
    // PostgreSQL reports INSERT 0 0, the proxy the row it stored.
    const where = await client.query(
      `SELECT tableoid::regclass::text AS t FROM ${parent} WHERE id >= 1000000 ORDER BY id`)
    return `landed in [${where.rows.map((x) => x.t).join(', ')}]`
  } catch (e) {
    if (e.message === 'Query read timeout') {
      lost = true
      return await side.lost()
    }
    return `error ${e.code || e.message}`
  } finally {
    if (kind !== 'rows' && !lost) await client.query('ROLLBACK').catch(() => {})
  }
}

let passed = 0
const failures = []

function compare(what, values, proxy, direct) {
  const bound = values.map(describe).join(', ')
  if (proxy === direct) {
    passed++
    if (VERBOSE) console.log(`ok ${what} | ${bound} | ${direct}`)
  } else {
    failures.push(`${what}\n    bound:      ${bound}\n    proxy:      ${proxy}\n    postgresql: ${direct}`)
  }
}

async function main() {
  const proxy = new Side(process.env.PROXY_DSN)
  const direct = new Side(process.env.DIRECT_DSN)
  await proxy.connect()
  await direct.connect()
  for (const named of [false, true]) {
    const tag = `[${named ? 'named' : 'unnamed'} statements, ${ZONE}]`
    const check = async (kind, parent, text, values) => {
      const p = await run(proxy, named, kind, parent, text, values)
      const q = await run(direct, named, kind, parent, text, values)
      compare(`${tag} ${text}`, values, p, q)
      return q
    }
    for (const t of KEY_TYPES) {
      for (const parent of [`l_${t.name}`, `d_${t.name}`]) {
        const select = `SELECT id, k::text AS k FROM ${parent} WHERE `
        const taken = []
        for (const [i, v] of t.probes.entries()) {
          const prev = t.probes[(i + t.probes.length - 1) % t.probes.length]
          await check('rows', parent, `${select}k = $1 AND id > 0 ORDER BY id`, [v])
          await check('rows', parent, `${select}k < $1 AND id > 0 ORDER BY id`, [v])
          await check('rows', parent, `${select}k >= $1 AND id > 0 ORDER BY id`, [v])
          await check('rows', parent, `${select}k BETWEEN $1 AND $2 AND id > 0 ORDER BY id`, [prev, v])
          await check('rows', parent, `${select}k IN ($1, $2) AND id > 0 ORDER BY id`, [prev, v])
          await check('rows', parent, `${select}k = ANY($1) AND id > 0 ORDER BY id`, [[v]])
          for (const cast of t.casts) {
            await check('rows', parent, `${select}k = $1::${cast} AND id > 0 ORDER BY id`, [v])
            await check('rows', parent, `${select}k >= $1::${cast} AND id > 0 ORDER BY id`, [v])
          }
          await check('count', parent, `UPDATE ${parent} SET note = 'updated' WHERE k = $1 AND id > 0`, [v])
          await check('count', parent, `DELETE FROM ${parent} WHERE k < $1 AND id > 0`, [v])
          const landed = await check('landed', parent,
            `INSERT INTO ${parent} (id, k, note) VALUES (1000000, $1, 'inserted')`, [v])
          if (landed.startsWith('landed in [') && landed !== 'landed in []') taken.push(v)
        }
        // Every value PostgreSQL takes, in one multi-row INSERT the proxy splits.
        const rows = taken.map((_, i) => `(${1000000 + i}, $${i + 1}, 'multi')`).join(', ')
        await check('landed', parent, `INSERT INTO ${parent} (id, k, note) VALUES ${rows}`, taken)
        if (parent.startsWith('l_')) {
          // Routing evidence: the planted row in the parent itself.
          const text = `${select}k = $1 ORDER BY id`
          const p = await run(proxy, named, 'rows', parent, text, [t.planted])
          const q = await run(direct, named, 'rows', parent, text, [t.planted])
          if (q.startsWith('rows [0:') && p === 'rows []') {
            passed++
          } else {
            failures.push(`${tag} routed: a read through the proxy skips the parent's planted row: ${text}\n` +
              `    bound:      ${describe(t.planted)}\n    proxy:      ${p} (routed: rows [])\n    postgresql: ${q}`)
          }
        }
      }
    }
  }
  await proxy.client.end()
  await direct.client.end()
  const version = require('pg/package.json').version
  for (const f of failures) console.log(`MISMATCH ${f}`)
  if (failures.length > 0) {
    console.log(`node-postgres ${version} (${ZONE}): ${failures.length} of ${passed + failures.length} checks FAILED`)
    process.exit(1)
  }
  console.log(`node-postgres ${version} (${ZONE}): ${passed} checks passed`)
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})

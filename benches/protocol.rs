//! Micro-benchmarks of the hot paths that run for every message: cutting
//! frames out of a buffer and mapping prepared statements.

use bytes::{BufMut, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use partproxy::prepared::StatementRegistry;
use partproxy::protocol::{cut_frame, decode_bind, put_bind, put_parse};

/// A result of `rows` DataRows of three text columns, as a server sends it.
fn result_set(rows: usize) -> BytesMut {
    let mut buf = BytesMut::new();
    for i in 0..rows {
        let cols = [
            format!("{i}"),
            format!("user-{i}@example.com"),
            "2026-11-21 12:00:00+00".to_owned(),
        ];
        let body_len: usize = 2 + cols.iter().map(|c| 4 + c.len()).sum::<usize>();
        buf.put_u8(b'D');
        buf.put_i32((4 + body_len) as i32);
        buf.put_u16(cols.len() as u16);
        for c in &cols {
            buf.put_i32(c.len() as i32);
            buf.put_slice(c.as_bytes());
        }
    }
    buf.put_u8(b'C');
    buf.put_i32(4 + 12);
    buf.put_slice(b"SELECT 1000\0");
    buf
}

fn frames(c: &mut Criterion) {
    let input = result_set(1000);
    let mut group = c.benchmark_group("frames");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("cut_and_forward_1000_rows", |b| {
        let mut out = BytesMut::with_capacity(input.len());
        b.iter(|| {
            let mut buf = input.clone();
            out.clear();
            while let Ok(Some(f)) = cut_frame(&mut buf, 1 << 30) {
                out.extend_from_slice(&f.bytes);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn statements(c: &mut Criterion) {
    let registry = StatementRegistry::default();
    let sql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
    let types = [0u8, 1, 0, 0, 0, 23];
    let mut bind = BytesMut::new();
    put_bind(
        &mut bind,
        "",
        "P0_1",
        &[0, 1, 0, 1, 0, 1, 0, 0, 0, 4, 0, 0, 0, 42, 0, 0],
    );
    let mut parse = BytesMut::new();
    put_parse(&mut parse, "P0_1", sql, &types);
    c.bench_function("statements/intern_known", |b| {
        registry.intern(sql, &types);
        b.iter(|| black_box(registry.intern(black_box(sql), &types)))
    });
    c.bench_function("statements/rename_bind", |b| {
        let mut out = BytesMut::with_capacity(64);
        b.iter(|| {
            out.clear();
            let m = decode_bind(&bind[5..]).unwrap_or_else(|| unreachable!());
            put_bind(&mut out, m.portal, "partproxy_s0", m.rest);
            black_box(out.len())
        })
    });
}

criterion_group!(benches, frames, statements);
criterion_main!(benches);

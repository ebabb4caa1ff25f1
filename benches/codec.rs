//! S3XML reader and writer throughput, with a bare xml-rs event loop over
//! the same bytes as the baseline for the reader.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edensync::s3xml::{Limits, Reader, Writer};
use xml::reader::{ParserConfig, XmlEvent};

const RECORDS: usize = 20_000;

fn reader(c: &mut Criterion) {
    let doc = common::document(RECORDS);
    let mut group = c.benchmark_group("read 20k organisations");
    group.throughput(Throughput::Bytes(doc.len() as u64));
    group.sample_size(10);
    group.bench_function("bare xml-rs event loop", |b| {
        b.iter(|| {
            let config = ParserConfig::new()
                .whitespace_to_characters(true)
                .cdata_to_characters(true)
                .coalesce_characters(true);
            let mut events =
                config.create_reader(std::io::BufReader::with_capacity(64 * 1024, &doc[..]));
            let mut elements = 0usize;
            loop {
                match events.next().unwrap() {
                    XmlEvent::StartElement { .. } => elements += 1,
                    XmlEvent::EndDocument => break,
                    _ => {}
                }
            }
            elements
        })
    });
    group.bench_function("edensync reader", |b| {
        b.iter(|| {
            let reader = Reader::new(&doc[..], Limits::default()).unwrap();
            reader.map(|r| r.unwrap().fields.len()).sum::<usize>()
        })
    });
    group.finish();
}

fn writer(c: &mut Criterion) {
    let doc = common::document(RECORDS);
    let records: Vec<_> = Reader::new(&doc[..], Limits::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut out = Vec::with_capacity(doc.len() * 2);
    {
        let mut w = Writer::start(&mut out, RECORDS as u64, &[]).unwrap();
        for r in &records {
            w.record(r).unwrap();
        }
        w.finish().unwrap();
    }
    let mut group = c.benchmark_group("write 20k organisations");
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.sample_size(20);
    group.bench_function("edensync writer", |b| {
        b.iter(|| {
            out.clear();
            let mut w = Writer::start(&mut out, RECORDS as u64, &[("domain", "vm")]).unwrap();
            for r in &records {
                w.record(r).unwrap();
            }
            w.finish().unwrap();
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, reader, writer);
criterion_main!(benches);

//! Write an S3XML document of N organisations (each with a nested office)
//! to standard output, as used by the benchmarks:
//! `cargo run --release --example sample_document -- 1000000 > orgs.xml`

#[path = "../benches/common/mod.rs"]
mod common;

use std::io::Write;

fn main() -> std::io::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write!(
        out,
        "<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"true\" results=\"{count}\" domain=\"vm\" url=\"http://127.0.0.1:8765/eden\">"
    )?;
    for i in 0..count {
        out.write_all(common::organisation(i).as_bytes())?;
    }
    out.write_all(b"</s3xml>")?;
    out.flush()
}

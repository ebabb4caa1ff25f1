//! Documents for the benchmarks: organisation records shaped like the ones
//! a real Eden exports (about 900 bytes each, with a nested office).

use std::fmt::Write;

pub fn organisation(i: usize) -> String {
    let mut s = String::with_capacity(1000);
    write!(
        s,
        r#"<resource name="org_organisation" uuid="urn:uuid:00000000-0000-4000-8000-{i:012}" mci="1" created_on="2026-11-26T06:19:04" modified_on="2026-11-26T06:{:02}:{:02}" url="http://127.0.0.1:8765/eden/org/organisation/{i}" created_by="admin@example.com" modified_by="admin@example.com">"#,
        (i / 60) % 60,
        i % 60
    )
    .unwrap();
    write!(
        s,
        r#"<data field="name">Organisation number {i}</data><data field="acronym" value="&quot;ORG{i}&quot;">ORG{i}</data><data field="website" value="&quot;http://example.org/org{i}&quot;">http://example.org/org{i}</data><data field="phone" value="&quot;+1 555 {i:04}&quot;">&#8206;+1 555 {i:04}</data><data field="comments" value="&quot;Line one\nLine two &lt;b&gt;&amp;amp;&lt;/b&gt; {i}&quot;">Line one
Line two &amp;lt;b&amp;gt;&amp;amp;amp;&amp;lt;/b&amp;gt; {i}</data><reference field="root_organisation" resource="org_organisation" uuid="urn:uuid:00000000-0000-4000-8000-{i:012}">Organisation number {i}</reference>"#
    )
    .unwrap();
    write!(
        s,
        r#"<resource name="org_office" uuid="urn:uuid:00000000-0000-4000-9000-{i:012}" mci="1" created_on="2026-11-26T06:19:04" modified_on="2026-11-26T06:19:04"><data field="name">Head office {i}</data><data field="obsolete" value="false">-</data></resource></resource>"#
    )
    .unwrap();
    s
}

#[allow(dead_code)]
pub fn document(records: usize) -> Vec<u8> {
    let mut doc = format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"true\" results=\"{records}\" domain=\"vm\" url=\"http://127.0.0.1:8765/eden\">"
    );
    for i in 0..records {
        doc.push_str(&organisation(i));
    }
    doc.push_str("</s3xml>");
    doc.into_bytes()
}

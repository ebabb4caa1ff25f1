//! Sync filters as tasks, the command line and Eden's query strings carry
//! them, on arbitrary text: parsing never panics, and a parsed filter can
//! be applied to any record without panicking.
#![no_main]

use edensync::s3xml::{Data, Field};
use edensync::store::filter::Filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line is the filter, the rest a field value to test it on.
    let (filter, value) = text.split_once('\n').unwrap_or((&text, ""));
    let parsed = [
        Filter::parse(filter).ok(),
        filter
            .split_once('=')
            .and_then(|(key, value)| Filter::from_query(key, value).ok()),
    ];
    for filter in parsed.into_iter().flatten() {
        assert!(!filter.field.is_empty());
        let fields = [Field::Data(Data {
            field: filter.field.clone(),
            text: value.to_string(),
            ..Data::default()
        })];
        let _ = filter.matches(false, &fields);
        let _ = filter.matches(true, &[]);
    }
});

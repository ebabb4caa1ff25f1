//! Parsing on a helper thread: a document's records are read a bounded
//! number ahead of the code storing them, so the two halves of an import
//! (parsing the XML, writing the database) use two cores.

use std::io::Read;
use std::sync::mpsc::{Receiver, sync_channel};

use super::{ReadError, Reader, Record};

/// Records parsed but not yet taken; bounds the memory read ahead.
const AHEAD: usize = 256;

/// The records of a reader, parsed on their own thread. Dropping it stops
/// the parsing at the next record.
pub struct ReadAhead {
    records: Receiver<Result<Record, ReadError>>,
}

impl ReadAhead {
    pub fn new<R: Read + Send + 'static>(reader: Reader<R>) -> std::io::Result<ReadAhead> {
        let (send, records) = sync_channel(AHEAD);
        std::thread::Builder::new()
            .name("edensync-read-ahead".into())
            .spawn(move || {
                for record in reader {
                    // A failed send means the consumer stopped: stop too.
                    if send.send(record).is_err() {
                        return;
                    }
                }
            })?;
        Ok(ReadAhead { records })
    }
}

impl Iterator for ReadAhead {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.records.recv().ok()
    }
}

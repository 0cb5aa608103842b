//! Files that only grow (`--on-change append`): which formats can be read from where an earlier
//! run stopped, and how.

use crate::formats::{Compression, Detected, Format};

/// Whether records can be added to a file of this kind by appending bytes: line formats, plain
/// or gzip (a gzip stream grows by appended members).
pub fn appendable(d: Detected) -> bool {
    matches!(d.format, Format::Csv | Format::Jsonl)
        && matches!(d.compression, Compression::None | Compression::Gzip)
}

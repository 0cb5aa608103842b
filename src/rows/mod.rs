//! From a data file to rows of a table's `Native` block: opening a file's records, converting each
//! field to its column under the error policy, and stamping each row with its provenance.

pub mod columnar;
pub mod parallel;
pub mod records;
pub mod source;
pub mod target;

/// Stack of the threads that read and convert files. Values nest as deep as
/// `Limits::max_depth` allows and are decoded, converted and dropped recursively; this leaves
/// that recursion (and the Parquet reader's) ample room. Untouched stack costs no memory.
pub const READING_STACK: usize = 16 << 20;

/// Starts a thread that reads files.
pub fn spawn_reading<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(READING_STACK)
        .spawn(f)
}

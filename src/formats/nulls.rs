//! A route's spellings of NULL for formats whose readers hand over typed values (JSON, XML): a
//! text or string value spelled as one of them reaches the row as NULL.

use super::pieces::{Forks, Piece, Split};
use super::{FieldSink, ReadError, RecordSource};
use crate::convert::ConvError;
use crate::value::Value;

pub struct Nulls {
    pub inner: Box<dyn RecordSource>,
    pub markers: Vec<Vec<u8>>,
}

struct Sink<'a> {
    inner: &'a mut dyn FieldSink,
    markers: &'a [Vec<u8>],
}

impl FieldSink for Sink<'_> {
    fn field(&mut self, index: usize, name: &str, value: Value<'_>) -> Result<(), ConvError> {
        let null = match &value {
            Value::Text(b) | Value::Str(b) => self.markers.iter().any(|m| m == b),
            _ => false,
        };
        match null {
            true => self.inner.field(index, name, Value::Null),
            false => self.inner.field(index, name, value),
        }
    }
}

impl RecordSource for Nulls {
    fn fields(&self) -> &[String] {
        self.inner.fields()
    }

    fn next_record(&mut self, sink: &mut dyn FieldSink) -> Result<bool, ReadError> {
        let mut sink = Sink {
            inner: sink,
            markers: &self.markers,
        };
        self.inner.next_record(&mut sink)
    }

    fn describe(&self) -> Option<String> {
        self.inner.describe()
    }

    fn split(&mut self) -> Option<Split> {
        let split = self.inner.split()?;
        Some(Split {
            pieces: split.pieces,
            forks: Box::new(NullForks {
                inner: split.forks,
                markers: self.markers.clone(),
            }),
        })
    }
}

/// The pieces' readers, with the route's NULL spellings.
struct NullForks {
    inner: Box<dyn Forks>,
    markers: Vec<Vec<u8>>,
}

impl Forks for NullForks {
    fn open(&self, piece: Piece) -> Box<dyn RecordSource> {
        Box::new(Nulls {
            inner: self.inner.open(piece),
            markers: self.markers.clone(),
        })
    }
}

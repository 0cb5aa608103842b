//! How deep a Parquet file's schema nests, read from the footer's Thrift bytes before the Parquet
//! reader sees them: the reader builds the schema tree recursively, so a hostile footer of a few
//! hundred kilobytes could otherwise overflow the stack.

/// Compact-protocol type codes.
const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

/// Structures nested inside one schema element's own fields (logical types) are shallow; deeper
/// ones are not Parquet.
const MAX_SKIP_DEPTH: usize = 16;

struct Thrift<'a> {
    buf: &'a [u8],
    pos: usize,
}

type Parsed<T> = Result<T, &'static str>;

impl Thrift<'_> {
    fn byte(&mut self) -> Parsed<u8> {
        let b = *self.buf.get(self.pos).ok_or("the footer ends early")?;
        self.pos += 1;
        Ok(b)
    }

    fn skip_bytes(&mut self, n: usize) -> Parsed<()> {
        if self.buf.len() - self.pos < n {
            return Err("the footer ends early");
        }
        self.pos += n;
        Ok(())
    }

    fn varint(&mut self) -> Parsed<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a malformed number in the footer")
    }

    fn zigzag(&mut self) -> Parsed<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// The next field header of a struct: `(id, type)`, or `None` at its end.
    fn field(&mut self, last_id: &mut i16) -> Parsed<Option<(i16, u8)>> {
        let header = self.byte()?;
        let kind = header & 0x0f;
        if kind == STOP {
            return Ok(None);
        }
        let delta = header >> 4;
        *last_id = match delta {
            0 => i16::try_from(self.zigzag()?).map_err(|_| "a malformed field id")?,
            d => last_id.wrapping_add(i16::from(d)),
        };
        Ok(Some((*last_id, kind)))
    }

    /// A list or set header: element count and type.
    fn list(&mut self) -> Parsed<(u64, u8)> {
        let header = self.byte()?;
        let size = match header >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        Ok((size, header & 0x0f))
    }

    fn skip(&mut self, kind: u8, depth: usize) -> Parsed<()> {
        if depth > MAX_SKIP_DEPTH {
            return Err("structures nested too deeply in the footer");
        }
        match kind {
            TRUE | FALSE => Ok(()),
            BYTE => self.skip_bytes(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip_bytes(8),
            UUID => self.skip_bytes(16),
            BINARY => {
                let n = usize::try_from(self.varint()?).map_err(|_| "a malformed length")?;
                self.skip_bytes(n)
            }
            LIST | SET => {
                let (size, elem) = self.list()?;
                for _ in 0..size {
                    match elem {
                        // Booleans in a collection take a byte each.
                        TRUE | FALSE => self.skip_bytes(1)?,
                        _ => self.skip(elem, depth + 1)?,
                    }
                }
                Ok(())
            }
            MAP => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                for _ in 0..size {
                    self.skip(kinds >> 4, depth + 1)?;
                    self.skip(kinds & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => {
                let mut id = 0;
                while let Some((_, kind)) = self.field(&mut id)? {
                    self.skip(kind, depth + 1)?;
                }
                Ok(())
            }
            _ => Err("an unknown type in the footer"),
        }
    }

    /// A `SchemaElement`: its `num_children` (field 5), the rest skipped.
    fn schema_element(&mut self) -> Parsed<u64> {
        let (mut id, mut children) = (0, 0);
        while let Some((field, kind)) = self.field(&mut id)? {
            if field == 5 && kind == I32 {
                children = u64::try_from(self.zigzag()?).unwrap_or(0);
            } else {
                self.skip(kind, 0)?;
            }
        }
        Ok(children)
    }
}

/// The deepest level of the schema in a `FileMetaData` footer (the root is level 0, a top-level
/// column level 1), counted without recursion.
pub fn schema_depth(footer: &[u8]) -> Result<usize, &'static str> {
    let mut t = Thrift {
        buf: footer,
        pos: 0,
    };
    let mut id = 0;
    while let Some((field, kind)) = t.field(&mut id)? {
        if field != 2 || kind != LIST {
            t.skip(kind, 0)?;
            continue;
        }
        let (count, elem) = t.list()?;
        if elem != STRUCT {
            return Err("a malformed schema in the footer");
        }
        // Children still to come at each open level.
        let mut open: Vec<u64> = Vec::new();
        let mut deepest = 0;
        for _ in 0..count {
            deepest = deepest.max(open.len());
            if let Some(left) = open.last_mut() {
                *left = left.saturating_sub(1);
            }
            match t.schema_element()? {
                0 => {
                    while open.last() == Some(&0) {
                        open.pop();
                    }
                }
                n => open.push(n),
            }
        }
        return Ok(deepest);
    }
    Err("the footer has no schema")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A footer whose schema is a root with one chain of `levels` nested groups ending in a
    /// column, with a skippable field before the schema and a logical type in each element.
    pub fn nested_footer(levels: usize) -> Vec<u8> {
        let mut out = vec![0x15, 0x04]; // field 1 (i32): version 2
        out.push(0x19); // field 2 (list)
        let count = levels + 1;
        out.push(0xfc); // list of structs, size follows
        let mut n = count as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        for level in 0..count {
            out.extend([0x48, 0x01, b'x']); // field 4 (binary): name "x"
            if level + 1 < count {
                out.extend([0x15, 0x02]); // field 5 (i32): one child
            } else {
                // In long form (explicit ids): field 1 (i32) type, field 3 (i32) repetition,
                // and an empty logical type, field 10 (struct), to skip.
                out.extend([0x05, 0x02, 0x02, 0x05, 0x06, 0x00, 0x0c, 0x14, 0x00]);
            }
            out.push(0x00);
        }
        out.extend([0x16, 0x04]); // field 3 (i64): num_rows 2
        out.push(0x00);
        out
    }

    #[test]
    fn depth_is_counted_from_the_schema_list() {
        assert_eq!(schema_depth(&nested_footer(1)), Ok(1));
        assert_eq!(schema_depth(&nested_footer(3)), Ok(3));
        assert_eq!(schema_depth(&nested_footer(100_000)), Ok(100_000));
    }

    #[test]
    fn truncated_footers_are_errors() {
        let f = nested_footer(5);
        for cut in 0..f.len() - 3 {
            assert!(schema_depth(&f[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn siblings_do_not_add_depth() {
        // root (2 children): a column, then a group (1 child) holding a column.
        let mut out = vec![0x29, 0x4c];
        out.extend([0x48, 0x01, b'r', 0x15, 0x04, 0x00]);
        out.extend([0x48, 0x01, b'a', 0x00]);
        out.extend([0x48, 0x01, b'g', 0x15, 0x02, 0x00]);
        out.extend([0x48, 0x01, b'b', 0x00]);
        out.push(0x00);
        assert_eq!(schema_depth(&out), Ok(2));
    }
}

//! A streamed (large) file's bytes read, decompressed and decoded on a thread of their own, a few chunks
//! ahead of the parser (`--jobs` above 1), so that the parsing thread only splits records and
//! converts fields. The bytes, their order and any error are exactly what the parser would have
//! read itself; only the thread that produces them differs.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes handed over at a time.
const CHUNK_BYTES: usize = 256 << 10;
/// Chunks read ahead at most: the memory this takes is bounded by `DEPTH + 2` chunks.
const DEPTH: usize = 4;

/// What the reading thread hands over.
enum Piece {
    Bytes(Vec<u8>),
    /// The end of the input; a thread that stops without saying so failed.
    End,
    Failed(io::Error),
}

/// The parser's end of a read-ahead thread.
pub struct ReadAhead {
    pieces: Option<Receiver<Piece>>,
    /// Emptied chunks go back to be filled again.
    spare: SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    /// The end or an error was handed over: nothing more comes.
    ended: bool,
    thread: Option<JoinHandle<()>>,
}

/// Starts reading `inner` on a thread of its own.
pub fn spawn(mut inner: Box<dyn Read + Send>) -> io::Result<ReadAhead> {
    let (tx, pieces) = sync_channel(DEPTH);
    let (spare, spares) = sync_channel::<Vec<u8>>(DEPTH + 2);
    let thread = std::thread::Builder::new()
        .name("read-ahead".into())
        .spawn(move || {
            loop {
                let mut buf: Vec<u8> = spares.try_recv().unwrap_or_default();
                buf.resize(CHUNK_BYTES, 0);
                let piece = match read_some(&mut *inner, &mut buf) {
                    Ok(0) => Piece::End,
                    Ok(n) => {
                        buf.truncate(n);
                        Piece::Bytes(buf)
                    }
                    Err(e) => Piece::Failed(e),
                };
                let last = !matches!(piece, Piece::Bytes(_));
                if tx.send(piece).is_err() || last {
                    return;
                }
            }
        })?;
    Ok(ReadAhead {
        pieces: Some(pieces),
        spare,
        chunk: Vec::new(),
        at: 0,
        ended: false,
        thread: Some(thread),
    })
}

fn read_some(inner: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match inner.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            let Some(pieces) = self.pieces.as_ref().filter(|_| !self.ended) else {
                return Ok(0);
            };
            if out.is_empty() {
                return Ok(0);
            }
            match pieces.recv() {
                Ok(Piece::Bytes(next)) => {
                    let used = std::mem::replace(&mut self.chunk, next);
                    self.at = 0;
                    let _ = self.spare.try_send(used);
                }
                Ok(Piece::End) => self.ended = true,
                Ok(Piece::Failed(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                Err(_) => {
                    self.ended = true;
                    return Err(io::Error::other("the thread reading ahead stopped"));
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    /// Stops the thread and waits for it, so that whatever it counts or hashes is final once
    /// the reader is gone.
    fn drop(&mut self) {
        drop(self.pieces.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out `data` a few bytes at a time, then fails if told to.
    struct Dribble {
        data: Vec<u8>,
        at: usize,
        fail_at_end: bool,
    }

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return match self.fail_at_end {
                    true => Err(io::Error::new(io::ErrorKind::InvalidData, "truncated")),
                    false => Ok(0),
                };
            }
            let n = buf.len().min(7).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn every_byte_arrives_in_order() {
        for n in [0, 1, 7, CHUNK_BYTES, 3 * CHUNK_BYTES + 5] {
            let input = data(n);
            let inner = Box::new(io::Cursor::new(input.clone()));
            let mut out = Vec::new();
            spawn(inner).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, input, "{n}");
        }
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let input = data(1000);
        let inner = Box::new(Dribble {
            data: input.clone(),
            at: 0,
            fail_at_end: true,
        });
        let mut ahead = spawn(inner).unwrap();
        let mut out = vec![0; 1000];
        ahead.read_exact(&mut out).unwrap();
        assert_eq!(out, input);
        let e = ahead.read(&mut [0; 10]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(ahead.read(&mut [0; 10]).unwrap(), 0);
    }

    #[test]
    fn a_reader_dropped_early_stops_its_thread() {
        let inner = Box::new(io::Cursor::new(data(20 * CHUNK_BYTES)));
        let mut ahead = spawn(inner).unwrap();
        ahead.read_exact(&mut [0; 10]).unwrap();
        drop(ahead);
    }
}

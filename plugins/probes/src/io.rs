//! The stream wrappers the probes put around a connection, each there for one reason:
//!
//! - [`QuickAck`], every probe's TCP connection: acknowledges at once what it read when it waits
//!   for more, so a server's second small write is not held back 40 ms by Nagle waiting for our
//!   delayed ACK.
//! - `FirstBytes`, the `tls` probe's stream under the handshake: keeps the first bytes the server
//!   sent, so a failed handshake can say what came instead of TLS.
//! - `Capped`, the IMAP login's stream: bounds what async-imap reads (in all, and per announced
//!   literal), since async-imap itself would buffer without limit.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A probe's TCP connection, which acknowledges what it read at once (`TCP_QUICKACK`, Linux)
/// when it goes on waiting for more without writing.
///
/// Why: a probe is a short dialogue of small messages, and a server that writes twice before it
/// reads again, without `TCP_NODELAY`, has its second write held back by Nagle until our ACK of
/// the first comes; a delayed ACK comes 40 ms later. Postfix after STARTTLS does exactly that
/// (OpenSSL's TLS 1.3 session tickets, then the EHLO reply): measured on loopback, half of the
/// SMTP STARTTLS checks took 43 ms instead of 2.
///
/// When: only when a read brought data and the next read would wait, with nothing written in
/// between. A read that completes a reply is followed by our next command, which carries the ACK
/// anyway; asking for a quick ACK after every read (as this did first) cost a system call and an
/// ACK segment of its own per read, for nothing, and the kernel leaves quick-ack mode by itself
/// once the dialogue looks interactive, so it is asked again each time it is needed.
#[derive(Debug)]
pub struct QuickAck {
    stream: TcpStream,
    /// Data was read and not yet acknowledged by a write of ours or a quick ACK.
    read_unacked: bool,
}

impl QuickAck {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> Self {
        QuickAck {
            stream,
            read_unacked: false,
        }
    }

    fn ack_now(&mut self) {
        self.read_unacked = false;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = self.stream.set_quickack(true);
    }

    fn wrote<T>(&mut self, polled: &Poll<io::Result<T>>) {
        if matches!(polled, Poll::Ready(Ok(_))) {
            self.read_unacked = false;
        }
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => this.read_unacked = true,
            Poll::Pending if this.read_unacked => this.ack_now(),
            _ => {}
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, data);
        this.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Keeps a copy of the first bytes read from the server, so a failed handshake can show what
/// came instead of TLS.
#[derive(Debug)]
pub(crate) struct FirstBytes<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<S> FirstBytes<S> {
    /// Wraps `inner`, keeping up to [`FIRST_BYTES`] of what is read in `seen`.
    pub(crate) fn new(inner: S, seen: Arc<Mutex<Vec<u8>>>) -> Self {
        FirstBytes { inner, seen }
    }
}

/// How many of the first bytes a [`FirstBytes`] keeps.
const FIRST_BYTES: usize = 128;

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytes<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let mut seen = lock(&this.seen);
            let room = FIRST_BYTES.saturating_sub(seen.len());
            if let Some(new) = buf.filled().get(before..) {
                seen.extend_from_slice(&new[..room.min(new.len())]);
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytes<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    // Passed through so rustls can hand several TLS records to the kernel in one `writev`
    // (ChangeCipherSpec and Finished): without it tokio's default writes only the first buffer,
    // one `sendto` per record, and the server is woken once per record.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Locks a mutex, taking the data even if another thread panicked while holding it: what it
/// guards here (bytes, a record) cannot be left half-updated.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A stream that refuses to read more than a fixed number of bytes, so a peer cannot make
/// async-imap's buffer grow without bound within the deadline, nor announce a literal larger
/// than a limit (which async-imap would allocate before reading it). The IMAP login reads
/// through it, with its `MAX_BYTES` and `MAX_LITERAL`.
#[derive(Debug)]
pub(crate) struct Capped<S> {
    inner: S,
    limit: usize,
    left: usize,
    scratch: Vec<u8>,
    literals: LiteralGuard,
}

impl<S> Capped<S> {
    /// Reads at most `limit` bytes from `inner`, and no line announcing a literal larger than
    /// `max_literal`.
    pub(crate) fn new(inner: S, limit: usize, max_literal: u64) -> Self {
        Capped {
            inner,
            limit,
            left: limit,
            scratch: Vec::new(),
            literals: LiteralGuard::new(max_literal),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(size) = this.literals.refused {
            return Poll::Ready(Err(LiteralTooLarge(size).into()));
        }
        if this.left == 0 {
            return Poll::Ready(Err(io::Error::other(format!(
                "the server sent more than {} bytes during the login",
                this.limit
            ))));
        }
        // Read into a bounded scratch buffer (safe code cannot cap the caller's buffer), and
        // look at the bytes before async-imap does.
        let want = buf.remaining().min(this.left).min(16 * 1024);
        this.scratch.resize(want, 0);
        let mut limited = ReadBuf::new(&mut this.scratch);
        match Pin::new(&mut this.inner).poll_read(cx, &mut limited) {
            Poll::Ready(Ok(())) => {
                let filled = limited.filled();
                this.left -= filled.len();
                if let Err(size) = this.literals.scan(filled) {
                    return Poll::Ready(Err(LiteralTooLarge(size).into()));
                }
                buf.put_slice(filled);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// The server announced a literal larger than a [`Capped`] stream allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiteralTooLarge(u64);

impl std::fmt::Display for LiteralTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server announced a {}-byte literal during login", self.0)
    }
}

impl std::error::Error for LiteralTooLarge {}

impl From<LiteralTooLarge> for io::Error {
    fn from(e: LiteralTooLarge) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Watches the server's bytes, however they are split into reads, for lines that end with a
/// literal header (`{N}` or `{N+}`, then CR LF). A literal up to `max_literal` is let through
/// and its bytes skipped (they are data, not lines); a larger one is refused.
#[derive(Debug)]
struct LiteralGuard {
    /// The largest literal let through.
    max_literal: u64,
    /// The end of the current line so far: enough for `{` + 20 digits + `+}` + CR.
    tail: Vec<u8>,
    /// Bytes dropped from the front of `tail` since the line began.
    tail_cut: bool,
    /// Literal bytes still to come.
    skip: u64,
    /// The size of the literal refused, once one was.
    refused: Option<u64>,
}

impl LiteralGuard {
    const TAIL: usize = 24;

    fn new(max_literal: u64) -> Self {
        LiteralGuard {
            max_literal,
            tail: Vec::new(),
            tail_cut: false,
            skip: 0,
            refused: None,
        }
    }

    /// Looks at the next bytes from the server; `Err(N)` for a line announcing an N-byte literal
    /// larger than `max_literal`.
    fn scan(&mut self, mut bytes: &[u8]) -> Result<(), u64> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            if b != b'\n' {
                if self.tail.len() == Self::TAIL {
                    self.tail.remove(0);
                    self.tail_cut = true;
                }
                self.tail.push(b);
                continue;
            }
            let announced = literal_size(&self.tail, self.tail_cut);
            self.tail.clear();
            self.tail_cut = false;
            match announced {
                Some(n) if n > self.max_literal => {
                    self.refused = Some(n);
                    return Err(n);
                }
                Some(n) => self.skip = n,
                None => {}
            }
        }
        Ok(())
    }
}

/// The size a line (without its LF) announces with a literal header at its end: `{N}` or
/// `{N+}`, before an optional CR. `cut`: the line began before `tail` did; a run of digits that
/// reaches back past the cut counts as larger than any limit.
fn literal_size(tail: &[u8], cut: bool) -> Option<u64> {
    let line = tail.strip_suffix(b"\r").unwrap_or(tail);
    let inner = line.strip_suffix(b"}")?;
    let inner = inner.strip_suffix(b"+").unwrap_or(inner);
    let digits = inner
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let start = inner.len() - digits;
    if start == 0 {
        return cut.then_some(u64::MAX);
    }
    if inner[start - 1] != b'{' {
        return None;
    }
    Some(inner[start..].iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IMAP login's `MAX_LITERAL`, which these cases are written around.
    const MAX_LITERAL: u64 = 64 * 1024;

    /// Feeds `stream` to a fresh guard in pieces of `size` bytes.
    fn guard(stream: &[u8], size: usize) -> Result<(), u64> {
        let mut g = LiteralGuard::new(MAX_LITERAL);
        stream.chunks(size).try_for_each(|c| g.scan(c))
    }

    #[test]
    fn large_literals_are_refused_however_the_reads_split() {
        for (stream, want) in [
            (&b"* 1 FETCH (BODY[] {500000000}\r\n"[..], Err(500_000_000)),
            (b"* 1 FETCH (BODY[] {500000000+}\r\n", Err(500_000_000)),
            (b"* OK x\r\n* 1 FETCH (BODY[] {65537}\n", Err(65_537)),
            (
                b"* 1 FETCH (BODY[] {99999999999999999999999999999}\r\n",
                Err(u64::MAX),
            ),
            // Small literals pass, and their data is not read as lines.
            (
                b"* 1 FETCH (BODY[] {20}\r\n{900000}\r\n{900000}\r\n)\r\n",
                Ok(()),
            ),
            (b"* CAPABILITY IMAP4rev1\r\na1 OK {65536}\r\n", Ok(())),
            // Not at the end of a line, or not a literal header.
            (b"a1 NO quota {500000000} exceeded\r\n", Ok(())),
            (b"a1 NO 500000000}\r\n", Ok(())),
            (b"a1 NO {}\r\n", Ok(())),
            (b"a1 NO {12a}\r\n", Ok(())),
        ] {
            for size in 1..=stream.len() {
                assert_eq!(
                    guard(stream, size),
                    want,
                    "{:?} in pieces of {size}",
                    String::from_utf8_lossy(stream)
                );
            }
        }
    }

    #[test]
    fn a_refused_literal_stays_refused() {
        let mut g = LiteralGuard::new(MAX_LITERAL);
        assert_eq!(g.scan(b"* 1 FETCH (BODY[] {70000}\r\n"), Err(70_000));
        assert_eq!(g.refused, Some(70_000));
    }
}

//! A response body made of chunks that are all ready: `/metrics` hands hyper the text of each
//! metric family as it was written, instead of copying 75 MiB (100,000 targets) into one buffer
//! first, which doubled the agent's memory at every scrape.

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Ready chunks, sent in order; the length is known, so the response has a `Content-Length`.
#[derive(Debug, Default)]
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl Chunks {
    /// The body of `chunks`, empty ones left out.
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Chunks { chunks, remaining }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.chunks.pop_front();
        if let Some(c) = &next {
            self.remaining -= c.len() as u64;
        }
        Poll::Ready(next.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn sends_every_chunk_in_order_with_its_length() {
        let body = Chunks::new([
            Bytes::from("# HELP a\n"),
            Bytes::new(),
            Bytes::from("a 1\n"),
        ]);
        assert_eq!(body.size_hint().exact(), Some(13));
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"# HELP a\na 1\n");
    }

    #[tokio::test]
    async fn no_chunks_is_an_empty_body() {
        let body = Chunks::new([]);
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}

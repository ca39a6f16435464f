//! Streams the client's request body to the upstream, enforcing `MAX_BODY_BYTES` on the way.
//!
//! actix's `Payload` is `!Send` while reqwest needs a `Send` body, so the body crosses a small
//! bounded channel: a pump future (polled by the handler, on the actix worker) reads the payload and
//! feeds the channel; reqwest reads the other end. The bound gives backpressure, so a large upload
//! never sits whole in gateway memory.
//!
//! The stream only ends cleanly after an explicit end marker. If the pump stops early (body too
//! large, client gone), the stream fails instead, so the upstream sees an aborted request rather
//! than a truncated body that looks complete.

use actix_web::web;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::future::Future;
use std::io;
use tokio::sync::mpsc;

/// Chunks in flight between the pump and reqwest; actix hands out chunks of up to ~32 KiB.
const CHANNEL_CHUNKS: usize = 4;

/// How the pump finished.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// Everything was handed to reqwest.
    Complete,
    /// reqwest stopped reading (the upstream answered or failed first).
    Abandoned,
    /// The body grew past the limit.
    TooLarge,
    /// The client's upload broke off.
    ClientFailed(String),
}

enum Message {
    Chunk(Bytes),
    End,
}

/// Splits `payload` into the body for reqwest and the pump that must be polled alongside the
/// upstream call.
pub fn stream(payload: web::Payload, limit: u64) -> (reqwest::Body, impl Future<Output = BodyEnd>) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    (reqwest::Body::wrap_stream(receiver_stream(receiver)), pump(payload, sender, limit))
}

async fn pump<S, E>(mut payload: S, sender: mpsc::Sender<Message>, limit: u64) -> BodyEnd
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut total: u64 = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => return BodyEnd::ClientFailed(err.to_string()),
        };
        total = total.saturating_add(chunk.len() as u64);
        if total > limit {
            return BodyEnd::TooLarge;
        }
        if sender.send(Message::Chunk(chunk)).await.is_err() {
            return BodyEnd::Abandoned;
        }
    }
    match sender.send(Message::End).await {
        Ok(()) => BodyEnd::Complete,
        Err(_) => BodyEnd::Abandoned,
    }
}

fn receiver_stream(receiver: mpsc::Receiver<Message>) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some(receiver), |state| async move {
        let mut receiver = state?;
        match receiver.recv().await {
            Some(Message::Chunk(chunk)) => Some((Ok(chunk), Some(receiver))),
            Some(Message::End) => None,
            // The pump gave up without an end marker: fail, so the upstream never takes a
            // truncated body for a whole one.
            None => Some((Err(io::Error::other("the request body was cut off")), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        stream::iter(sizes.iter().map(|size| Ok(Bytes::from(vec![b'x'; *size]))).collect::<Vec<_>>())
    }

    async fn run(
        input: impl Stream<Item = Result<Bytes, String>> + Unpin,
        limit: u64,
    ) -> (BodyEnd, Vec<io::Result<Bytes>>) {
        let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
        let (end, received) = tokio::join!(pump(input, sender, limit), receiver_stream(receiver).collect::<Vec<_>>());
        (end, received)
    }

    #[tokio::test]
    async fn a_body_within_the_limit_arrives_whole_and_ends_cleanly() {
        let (end, received) = run(chunks(&[3, 4, 3]), 10).await;
        assert_eq!(end, BodyEnd::Complete);
        let lengths: Vec<usize> = received.into_iter().map(|c| c.unwrap().len()).collect();
        assert_eq!(lengths, [3, 4, 3]);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_fails_the_stream_instead_of_ending_it() {
        let (end, received) = run(chunks(&[6, 6, 6]), 10).await;
        assert_eq!(end, BodyEnd::TooLarge);
        assert!(received[0].is_ok());
        assert!(received.last().unwrap().is_err(), "the upstream must see an aborted body");
    }

    #[tokio::test]
    async fn a_broken_upload_fails_the_stream() {
        let input = stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err("reset by peer".to_owned())]);
        let (end, received) = run(input, 10).await;
        assert_eq!(end, BodyEnd::ClientFailed("reset by peer".into()));
        assert!(received.last().unwrap().is_err());
    }

    #[tokio::test]
    async fn the_pump_stops_when_reqwest_stops_reading() {
        let (sender, receiver) = mpsc::channel(1);
        drop(receiver);
        assert_eq!(pump(chunks(&[1, 1]), sender, 10).await, BodyEnd::Abandoned);
    }
}

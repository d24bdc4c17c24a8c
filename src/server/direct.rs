//! Media requests answered with `sendfile(2)`: the HTTP/1.1 `GET` and `HEAD` requests under
//! `/media/` that a connection sends are read here, run through the same router (every
//! middleware, the access check), and when the handler answers with a [`FileBody`] the file
//! goes from the page cache to the socket without passing through user space — what nginx
//! does and hyper cannot (BENCHMARKS.md, "Segment serving": copying through user space was
//! most of what pufa spent above nginx per segment).
//!
//! The first request a connection sends that is anything else (another method or path, a
//! body, HTTP/1.0, `Expect`, `Upgrade`, a head that does not parse or is too big) hands the
//! connection, with every byte read so far, to hyper for the rest of its life: hyper stays the
//! one HTTP implementation for everything but plain media fetches, and answers the odd
//! requests with its own errors. A player's connections fetch playlists and segments one after
//! another and stay here; a page's connection, once it posts a heartbeat, is hyper's.
//!
//! The same protections as hyper's: a request head must arrive within the header timeout
//! (also the idle time between requests), at most [`MAX_HEAD_BYTES`] of head, and an idle
//! connection closes when the server shuts down; a request in flight finishes first.

use super::grants::{GrantOffer, Grants};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{
    header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri,
};
use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::ServiceExt;

/// Largest request head read here; a bigger one goes to hyper (which answers 431).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Most headers in a request read here; more go to hyper.
const MAX_HEADERS: usize = 64;

/// Largest single `sendfile` call: the socket takes what fits in its buffer anyway.
const SENDFILE_CHUNK: usize = 4 * 1024 * 1024;

/// Request extension: this request came through the sendfile path, so a handler may answer
/// with an empty body and a [`FileBody`] extension instead of the bytes.
#[derive(Debug, Clone, Copy)]
pub struct SendfileCapable;

/// Response extension: the body is the whole of this open file (`len` bytes, the
/// `Content-Length` the handler also sets). Only answered to requests carrying
/// [`SendfileCapable`]; no middleware may replace the body (compression skips such responses,
/// see `crate::http::router`).
#[derive(Debug, Clone)]
pub struct FileBody {
    pub file: Arc<File>,
    pub len: u64,
}

/// How a connection left the sendfile path.
pub enum Outcome {
    /// Closed (by the client, an error, a timeout or the shutdown).
    Done,
    /// Not a plain media request: hyper serves the rest, starting with these bytes.
    HandOff(TcpStream, Bytes),
}

/// What the head at the start of the buffer is.
enum Head {
    /// Not complete yet.
    Partial,
    /// Not for this path: hand the connection to hyper.
    Other,
    /// A media request whose head is the first `len` bytes.
    Media {
        len: usize,
        request: Box<Request<Body>>,
        close: bool,
    },
}

/// Parse the head at the start of `buf`.
fn parse_head(buf: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(_) => return Head::Other,
    };
    let method = match parsed.method {
        Some("GET") => Method::GET,
        Some("HEAD") => Method::HEAD,
        _ => return Head::Other,
    };
    let path = parsed.path.unwrap_or("");
    if parsed.version != Some(1) || !path.starts_with("/media/") {
        return Head::Other;
    }
    let Ok(uri) = path.parse::<Uri>() else {
        return Head::Other;
    };
    let mut map = HeaderMap::with_capacity(parsed.headers.len());
    let mut close = false;
    for h in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Head::Other;
        };
        if name == header::CONTENT_LENGTH {
            if value.as_bytes() != b"0" {
                return Head::Other;
            }
        } else if name == header::TRANSFER_ENCODING
            || name == header::EXPECT
            || name == header::UPGRADE
        {
            return Head::Other;
        } else if name == header::CONNECTION {
            close |= value
                .as_bytes()
                .split(|b| *b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        map.append(name, value);
    }
    let mut request = Request::new(Body::empty());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = map;
    Head::Media {
        len,
        request: Box::new(request),
        close,
    }
}

/// Serve the media requests of `stream` until it closes or sends something else.
pub async fn serve(
    mut stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    grants: Arc<Grants>,
    header_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Outcome {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        // the next request head, within the header timeout (which also bounds idleness)
        let deadline = tokio::time::Instant::now() + header_timeout;
        let (request, close) = loop {
            if !buf.is_empty() {
                match parse_head(&buf) {
                    Head::Media {
                        len,
                        request,
                        close,
                    } => {
                        buf.advance(len);
                        break (*request, close);
                    }
                    Head::Other => return Outcome::HandOff(stream, buf.freeze()),
                    Head::Partial if buf.len() >= MAX_HEAD_BYTES => {
                        return Outcome::HandOff(stream, buf.freeze())
                    }
                    Head::Partial => {}
                }
            }
            let idle = buf.is_empty();
            let read = tokio::select! {
                read = tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)) => read,
                // an idle connection closes at shutdown; a started head is read to the end
                _ = shutdown.wait_for(|stop| *stop), if idle => return Outcome::Done,
            };
            match read {
                Ok(Ok(n)) if n > 0 => {}
                // closed, failed or too slow
                _ => return Outcome::Done,
            }
        };
        let head_only = request.method() == Method::HEAD;
        let response = match granted(&grants, &request) {
            Some(response) => response,
            None => {
                let path = request.uri().path().to_string();
                let mut request = request;
                request.extensions_mut().insert(ConnectInfo(remote));
                request.extensions_mut().insert(SendfileCapable);
                let response = match app.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if let (StatusCode::OK, Some(offer), Some(_)) = (
                    response.status(),
                    response.extensions().get::<GrantOffer>(),
                    response.extensions().get::<FileBody>(),
                ) {
                    grants.keep(offer, &path, response.headers(), std::time::Instant::now());
                }
                response
            }
        };
        let close = close || *shutdown.borrow();
        if let Err(e) = respond(&mut stream, response, head_only, close).await {
            tracing::debug!(%remote, error = %e, "media response not completed");
            return Outcome::Done;
        }
        if close {
            let _ = stream.shutdown().await;
            return Outcome::Done;
        }
    }
}

/// Request headers that ask for something other than the whole file (a part, or only if
/// changed): such requests are answered by the router from the file, never by `sendfile`.
const NOT_WHOLE: [HeaderName; 6] = [
    header::RANGE,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
    header::IF_NONE_MATCH,
    header::IF_MATCH,
    header::IF_RANGE,
];

/// Whether a request asks for the whole file unconditionally.
pub fn whole_file_request(headers: &HeaderMap) -> bool {
    !NOT_WHOLE.iter().any(|h| headers.contains_key(h))
}

/// The answer that sends the whole of the file at `path` with `sendfile`: `headers` plus the
/// file's length and modification time, an empty body and the open file as [`FileBody`].
/// `None` when the path is not a regular file that can be opened. The file is opened and
/// examined on the calling thread, as nginx does: for a file in the page cache that is two
/// system calls, less than a hand-off to the blocking pool.
pub fn file_response(path: &std::path::Path, headers: HeaderMap) -> Option<Response<Body>> {
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut response = Response::new(Body::empty());
    *response.headers_mut() = headers;
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
    if let Some(modified) = super::grants::last_modified(&meta) {
        h.insert(header::LAST_MODIFIED, modified);
    }
    response.extensions_mut().insert(FileBody {
        file: Arc::new(file),
        len: meta.len(),
    });
    Some(response)
}

/// The answer to `request` from a grant (see [`super::grants`]): the grant's headers with this
/// file's length and time, and the file. `None` when no grant covers the request or the file
/// cannot be opened as a regular file (the router then answers, 404 included).
fn granted(grants: &Grants, request: &Request<Body>) -> Option<Response<Body>> {
    let grant = grants.lookup(request, std::time::Instant::now())?;
    let mut response = file_response(&grant.path, grant.headers)?;
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    Some(response)
}

/// How the body of a response is framed on the wire.
enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// The open file, sent with `sendfile`.
    File(FileBody),
    /// The body's frames, `Content-Length` bytes in all.
    Length(u64),
    /// The body's frames, chunked.
    Chunked,
}

/// Write `response` to `stream`. An error leaves the connection unusable.
async fn respond(
    stream: &mut TcpStream,
    response: Response<Body>,
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let (parts, body) = response.into_parts();
    let status = parts.status;
    let no_body = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let framing = if let Some(file) = parts.extensions.get::<FileBody>() {
        Framing::File(file.clone())
    } else if no_body {
        Framing::None
    } else if let Some(len) = declared.or_else(|| axum::body::HttpBody::size_hint(&body).exact()) {
        Framing::Length(len)
    } else {
        Framing::Chunked
    };

    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(header::DATE) {
        head.extend_from_slice(b"date: ");
        head.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    match &framing {
        Framing::None => {
            if let Some(len) = declared.filter(|_| status == StatusCode::NOT_MODIFIED) {
                head.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
            }
        }
        Framing::File(file) => {
            head.extend_from_slice(format!("content-length: {}\r\n", file.len).as_bytes())
        }
        Framing::Length(len) => {
            head.extend_from_slice(format!("content-length: {len}\r\n").as_bytes())
        }
        Framing::Chunked if !head_only => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Chunked => {}
    }
    if close {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");

    if head_only {
        return stream.write_all(&head).await;
    }
    match framing {
        Framing::None => stream.write_all(&head).await,
        Framing::File(file) => {
            send_head_more(stream, &head).await?;
            send_file(stream, &file).await
        }
        Framing::Length(len) => {
            stream.write_all(&head).await?;
            let sent = write_frames(stream, body, false).await?;
            if sent != len {
                return Err(io::Error::other(format!(
                    "body of {sent} bytes where {len} were declared"
                )));
            }
            Ok(())
        }
        Framing::Chunked => {
            stream.write_all(&head).await?;
            write_frames(stream, body, true).await?;
            stream.write_all(b"0\r\n\r\n").await
        }
    }
}

/// Write the data frames of `body` (as chunks when `chunked`); the bytes of data written.
async fn write_frames(stream: &mut TcpStream, mut body: Body, chunked: bool) -> io::Result<u64> {
    let mut sent = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(io::Error::other)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers: not sent
        };
        if data.is_empty() {
            continue;
        }
        if chunked {
            stream
                .write_all(format!("{:x}\r\n", data.len()).as_bytes())
                .await?;
            stream.write_all(&data).await?;
            stream.write_all(b"\r\n").await?;
        } else {
            stream.write_all(&data).await?;
        }
        sent += data.len() as u64;
    }
    Ok(sent)
}

/// Write the response head with `MSG_MORE`, so the kernel sends it in one packet with the
/// start of the file that follows.
async fn send_head_more(stream: &mut TcpStream, head: &[u8]) -> io::Result<()> {
    let mut at = 0;
    while at < head.len() {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream.as_fd(), &head[at..], rustix::net::SendFlags::MORE)
                .map_err(io::Error::from)
        }) {
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Send the whole of `file` with `sendfile`, waiting for the socket when its buffer is full.
async fn send_file(stream: &mut TcpStream, file: &FileBody) -> io::Result<()> {
    let mut offset = 0u64;
    while offset < file.len {
        let count = usize::try_from(file.len - offset)
            .unwrap_or(usize::MAX)
            .min(SENDFILE_CHUNK);
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream.as_fd(), file.file.as_fd(), Some(&mut offset), count)
                .map_err(io::Error::from)
        }) {
            // the file is shorter than it was when opened: the length already sent is wrong
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A stream that first yields `prefix` (bytes already read from it), then reads from `inner`:
/// what hyper gets when a connection is handed over.
pub struct Rewind {
    prefix: Bytes,
    inner: TcpStream,
}

impl Rewind {
    pub fn new(inner: TcpStream, prefix: Bytes) -> Self {
        Rewind { prefix, inner }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
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

    fn media(head: &[u8]) -> Option<(usize, Request<Body>, bool)> {
        match parse_head(head) {
            Head::Media {
                len,
                request,
                close,
            } => Some((len, *request, close)),
            _ => None,
        }
    }

    #[test]
    fn plain_media_fetches_are_taken_and_everything_else_is_left_to_hyper() {
        let head = b"GET /media/lectures/1/v2/720p/seg_00000.m4s HTTP/1.1\r\nHost: x\r\nCookie: a=b\r\n\r\nGET /next";
        let (len, request, close) = media(head).expect("a media request");
        assert_eq!(&head[len..], b"GET /next");
        assert_eq!(
            request.uri().path(),
            "/media/lectures/1/v2/720p/seg_00000.m4s"
        );
        assert_eq!(request.headers()["cookie"], "a=b");
        assert!(!close);
        let (_, request, close) =
            media(b"HEAD /media/x HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n")
                .expect("head");
        assert_eq!(request.method(), Method::HEAD);
        assert!(close);
        assert!(media(b"GET /media/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n").is_some());

        assert!(matches!(
            parse_head(b"GET /media/x HTTP/1.1\r\nHost"),
            Head::Partial
        ));
        for other in [
            &b"POST /media/x HTTP/1.1\r\n\r\n"[..],
            b"GET /api/v1/me HTTP/1.1\r\n\r\n",
            b"GET /media/x HTTP/1.0\r\n\r\n",
            b"GET /media/x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /media/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /media/x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            b"GET /media/x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            b"GET /media/x HTTP/1.1\r\nBad Header: x\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01",
        ] {
            assert!(matches!(parse_head(other), Head::Other), "{other:?}");
        }
    }
}

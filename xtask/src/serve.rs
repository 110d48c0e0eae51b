//! A static file server for the site, on loopback only: GET and HEAD, the content
//! types the page needs (wasm must be application/wasm), and nothing outside the root.
//! It sends the two headers that make the page cross-origin isolated (for the CPU
//! path's threads), unless asked to serve as a plain static host does.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

use crate::Result;

/// Serves `root` on 127.0.0.1:`port` until the process ends.
pub fn serve(root: &Path, port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    println!("ganvas is served at http://127.0.0.1:{port}/  (Ctrl-C stops it)");
    accept(listener, root.to_path_buf(), Isolation::Headers);
    Ok(())
}

/// Whether responses carry the cross-origin isolation headers.
#[derive(Clone, Copy)]
pub enum Isolation {
    Headers,
    /// As a static host that sets no headers (GitHub Pages): the page's service
    /// worker must add them.
    None,
}

/// Serves `root` on a free loopback port from a background thread; returns the port.
pub fn spawn(root: &Path, isolation: Isolation) -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let root = root.to_path_buf();
    std::thread::spawn(move || accept(listener, root, isolation));
    Ok(port)
}

fn accept(listener: TcpListener, root: PathBuf, isolation: Isolation) {
    for stream in listener.incoming().flatten() {
        let root = root.clone();
        std::thread::spawn(move || {
            let _ = respond(stream, &root, isolation);
        });
    }
}

fn respond(mut stream: TcpStream, root: &Path, isolation: Isolation) -> std::io::Result<()> {
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Drain the headers; the server needs none of them.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    if method != "GET" && method != "HEAD" {
        return write_status(&mut stream, "405 Method Not Allowed");
    }
    let Some(path) = resolve(root, target) else {
        return write_status(&mut stream, "404 Not Found");
    };
    let Ok(body) = std::fs::read(&path) else {
        return write_status(&mut stream, "404 Not Found");
    };
    let isolating = match isolation {
        Isolation::Headers => {
            "Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\n"
        }
        Isolation::None => "",
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\n{isolating}Connection: close\r\n\r\n",
        content_type(&path),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if method == "GET" {
        stream.write_all(&body)?;
    }
    Ok(())
}

fn write_status(stream: &mut TcpStream, status: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

/// The file a URL path names under `root` (index.html for folders); `None` for paths
/// that would leave the root.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(relative);
    Some(if full.is_dir() { full.join("index.html") } else { full })
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

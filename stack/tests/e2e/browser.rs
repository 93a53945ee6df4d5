//! Headless Chromium driven over the DevTools protocol, for tests that click through a page
//! (Swagger UI's Authorize and Execute buttons) rather than only render it. The protocol runs
//! over a WebSocket; the few lines of client framing it needs are here, so no WebSocket crate
//! is added for one test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium with the profile in `profile` and nothing fetched in the background
/// (no sync, updates or QUIC): add the page's URL and what to do with it.
pub fn headless_chromium(profile: &Path) -> Command {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// A headless Chromium showing one page, killed when dropped.
pub struct Browser {
    child: Child,
    socket: TcpStream,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP GET on loopback (Chromium's /json endpoints), returning the body. Chromium
/// keeps the connection open, so the body is read by its Content-Length.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let head = read_head(&mut s)?;
    let length: usize = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })?;
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

/// An HTTP response head, read byte by byte so that nothing after it is consumed.
fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).ok()?;
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

impl Browser {
    /// Starts Chromium on `url` and connects to that page's DevTools endpoint.
    pub fn open(url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = headless_chromium(profile.path())
            .args([
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let port_file = profile.path().join("DevToolsActivePort");
        let port: u16 = wait_for("Chromium's DevTools port", Duration::from_secs(30), || {
            std::fs::read_to_string(&port_file)
                .ok()?
                .lines()
                .next()?
                .trim()
                .parse()
                .ok()
        });
        let ws_url = wait_for("the page target", Duration::from_secs(30), || {
            let list: Value = serde_json::from_str(&http_get(port, "/json/list")?).ok()?;
            list.as_array()?
                .iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
        });
        let path = ws_url.splitn(4, '/').nth(3).unwrap();
        let socket = websocket_connect(port, &format!("/{path}"));
        let mut browser = Browser {
            child,
            socket,
            next_id: 0,
            _profile: profile,
        };
        browser.wait_loaded(url);
        browser
    }

    /// Sends one DevTools command and returns its `result` (panics on a protocol error).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// Sends one DevTools command; its `result`, or the protocol's `error`.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params }).to_string();
        send_text(&mut self.socket, msg.as_bytes());
        loop {
            let reply: Value = serde_json::from_slice(&read_message(&mut self.socket)).unwrap();
            if reply["id"] == id {
                return match reply.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(reply["result"].clone()),
                };
            }
        }
    }

    /// Waits until the page at `url` has loaded (the first context may be the blank page
    /// Chromium starts on, destroyed when the navigation commits).
    fn wait_loaded(&mut self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state = self.try_call(
                "Runtime.evaluate",
                json!({ "expression": "location.href + ' ' + document.readyState",
                        "returnByValue": true }),
            );
            if let Ok(r) = &state {
                if r["result"]["value"].as_str() == Some(&format!("{url} complete")) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "{url} did not load: {state:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its JSON value;
    /// a thrown exception fails the test with its text.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        if let Some(e) = result.get("exceptionDetails") {
            panic!(
                "page script threw: {}",
                e["exception"]["description"]
                    .as_str()
                    .unwrap_or(&e.to_string())
            );
        }
        result["result"]["value"].clone()
    }
}

fn websocket_connect(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut s).expect("a WebSocket handshake answer");
    assert!(
        head.lines().next().unwrap_or("").contains(" 101 "),
        "WebSocket handshake refused: {head}"
    );
    s
}

/// One masked text frame (clients must mask).
fn send_text(s: &mut TcpStream, payload: &[u8]) {
    let mut frame = vec![0x81u8];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask: [u8; 4] = rand_mask();
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).unwrap();
}

fn rand_mask() -> [u8; 4] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    nanos.to_be_bytes()
}

/// The next complete text message (fragments joined; control frames skipped).
fn read_message(s: &mut TcpStream) -> Vec<u8> {
    let mut message = Vec::new();
    loop {
        let mut head = [0u8; 2];
        s.read_exact(&mut head).unwrap();
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).unwrap();
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            len = u64::from_be_bytes(b);
        }
        let mut mask = [0u8; 4];
        if head[1] & 0x80 != 0 {
            s.read_exact(&mut mask).unwrap();
        }
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).unwrap();
        if head[1] & 0x80 != 0 {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        match opcode {
            0x8 => panic!("DevTools closed the connection"),
            0x9 | 0xA => continue,
            _ => message.extend_from_slice(&payload),
        }
        if fin {
            return message;
        }
    }
}

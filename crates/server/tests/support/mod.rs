//! Test support: the real `tessera` binary as a child process, and a minimal raw-protocol
//! client for checking bytes no driver exposes (ReadyForQuery status, garbage input).
//!
//! Every wait is bounded: the server must print its address within [`START_TIMEOUT`], exit
//! within [`STOP_TIMEOUT`] after SIGTERM, and every socket read times out after
//! [`IO_TIMEOUT`]. A [`Server`] is killed when dropped, so a failing test leaves no process.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the server may take to open its store and print its address.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long any single socket read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A `tessera start-single-node` on a temporary store of its own; the store is removed
/// after the server is killed (both on drop).
pub struct TempNode {
    pub server: Server,
    _store: tempfile::TempDir,
}

/// Starts the real binary on a fresh temporary store; its URL and the node.
pub fn start_temp_node() -> (String, TempNode) {
    let store = tempfile::tempdir().expect("a temporary store directory");
    let server = Server::start(store.path());
    let url = server.url();
    (
        url,
        TempNode {
            server,
            _store: store,
        },
    )
}

/// A running `tessera start-single-node`, killed on drop.
pub struct Server {
    child: Child,
    /// The SQL address it listens on.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `tessera start-single-node` on `store`, on a free loopback port chosen by the
    /// server itself (`--sql-addr 127.0.0.1:0`), and waits for it to print its address.
    pub fn start(store: &Path) -> Server {
        Server::start_with(store, &[])
    }

    /// [`Server::start`] with more flags (`--certs-dir DIR` for secure mode).
    pub fn start_with(store: &Path, flags: &[&std::ffi::OsStr]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("start-single-node")
            .arg("--store")
            .arg(store)
            .args(["--sql-addr", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn tessera");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[tessera stdout] {line}");
                if tx.send(line).is_err() {
                    // Keep draining so the child never blocks on a full pipe.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => {
                    panic!("tessera did not print its SQL address within {START_TIMEOUT:?}: {e}")
                }
            };
            if let Some(addr) = address_in(&line) {
                server.addr = addr;
                return server;
            }
        }
    }

    /// The port it serves SQL on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The URL psql connects with.
    pub fn url(&self) -> String {
        format!("postgresql://root@{}/defaultdb?sslmode=disable", self.addr)
    }

    /// The tokio-postgres connection string.
    pub fn conn_str(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=root dbname=defaultdb connect_timeout=10",
            self.port()
        )
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tessera did not exit within {STOP_TIMEOUT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The socket address in a line such as `tessera: serving SQL at postgresql://root@H:P/db…`.
fn address_in(line: &str) -> Option<SocketAddr> {
    let rest = line.split("serving SQL at postgresql://root@").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

/// Connects tokio-postgres to the server (bounded), driving the connection on a task.
pub async fn connect(server: &Server) -> tokio_postgres::Client {
    let (client, connection) = tokio::time::timeout(
        IO_TIMEOUT,
        tokio_postgres::connect(&server.conn_str(), tokio_postgres::NoTls),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection ended: {e}");
        }
    });
    client
}

/// Whether `psql` is installed.
pub fn have_psql() -> bool {
    Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a command to completion, killing it after `timeout`.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "command timed out after {timeout:?}: {cmd:?}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One backend message: its type byte and body.
pub type Message = (u8, Vec<u8>);

/// A bare Postgres protocol client over a blocking socket, for checks below the drivers.
pub struct RawClient {
    stream: TcpStream,
}

impl RawClient {
    /// Connects with read and write timeouts.
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("write timeout");
        RawClient { stream }
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends a protocol 3.0 startup packet with `params` and reads up to ReadyForQuery or
    /// an ErrorResponse.
    pub fn startup(&mut self, params: &[(&str, &str)]) -> Vec<Message> {
        let mut body = 196_608i32.to_be_bytes().to_vec();
        for (k, v) in params {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut packet = i32::try_from(body.len() + 4)
            .expect("small packet")
            .to_be_bytes()
            .to_vec();
        packet.extend_from_slice(&body);
        self.send_raw(&packet).expect("send startup");
        self.read_until(|(t, _)| *t == b'Z' || *t == b'E')
    }

    /// Sends a simple Query and reads up to ReadyForQuery.
    pub fn query(&mut self, sql: &str) -> Vec<Message> {
        let mut packet = vec![b'Q'];
        packet.extend_from_slice(
            &i32::try_from(sql.len() + 5)
                .expect("small query")
                .to_be_bytes(),
        );
        packet.extend_from_slice(sql.as_bytes());
        packet.push(0);
        self.send_raw(&packet).expect("send query");
        self.read_until(|(t, _)| *t == b'Z')
    }

    /// Reads messages until one matches `last` (included).
    pub fn read_until(&mut self, last: impl Fn(&Message) -> bool) -> Vec<Message> {
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut out = Vec::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "no matching message within {IO_TIMEOUT:?}: {out:?}"
            );
            let msg = self.read_message().expect("read message");
            let done = last(&msg);
            out.push(msg);
            if done {
                return out;
            }
        }
    }

    /// Reads one backend message.
    pub fn read_message(&mut self) -> std::io::Result<Message> {
        let mut header = [0u8; 5];
        self.stream.read_exact(&mut header)?;
        let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let len = usize::try_from(len)
            .ok()
            .filter(|l| (4..16 << 20).contains(l))
            .ok_or_else(|| std::io::Error::other(format!("bad message length {len}")))?;
        let mut body = vec![0u8; len - 4];
        self.stream.read_exact(&mut body)?;
        Ok((header[0], body))
    }

    /// Reads until the server closes the connection or `IO_TIMEOUT` passes; returns the
    /// messages read and whether the connection was closed.
    pub fn drain_until_closed(&mut self) -> (Vec<Message>, bool) {
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            match self.read_message() {
                Ok(m) => out.push(m),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return (out, false)
                }
                Err(_) => return (out, true),
            }
        }
        (out, false)
    }
}

/// The fields of an ErrorResponse or NoticeResponse body, by field type.
pub fn error_fields(body: &[u8]) -> HashMap<u8, String> {
    body.split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| (f[0], String::from_utf8_lossy(&f[1..]).into_owned()))
        .collect()
}

/// The transaction status of the last ReadyForQuery among `messages`.
pub fn ready_status(messages: &[Message]) -> Option<char> {
    messages
        .iter()
        .rev()
        .find(|(t, _)| *t == b'Z')
        .and_then(|(_, b)| b.first())
        .map(|b| char::from(*b))
}

/// The type bytes of `messages`, as a string ("TDCZ").
pub fn kinds(messages: &[Message]) -> String {
    messages.iter().map(|(t, _)| char::from(*t)).collect()
}

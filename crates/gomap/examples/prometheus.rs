//! A growing `GoMap` whose metrics are served in Prometheus format on localhost.
//!
//! ```text
//! cargo run --release -p gomap --example prometheus -- --seconds 30
//! curl -s http://127.0.0.1:9898/metrics | grep '^gomap_'
//! ```
//!
//! A worker thread grows a map to 500,000 entries and then churns it (removing the oldest
//! key for each new one), publishing `map.publish_metrics("demo")` ten times a second.
//! The main thread answers HTTP requests with the exporter's rendering. Everything stops
//! after `--seconds` (default 10, at most 3600): the example never runs forever by accident.
//!
//! Options: `--port P` (default 9898; 0 picks a free port), `--seconds N`, `--once` (no
//! server: print one scrape to stdout after half a second and exit).
//!
//! The server listens on 127.0.0.1 only. It uses `metrics-exporter-prometheus` without its
//! HTTP feature (no async runtime), and a few lines of `std::net` to serve the text.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use gomap::GoMap;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const LIVE_KEYS: u64 = 500_000;

struct Options {
    port: u16,
    seconds: u64,
    once: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { port: 9898, seconds: 10, once: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => options.port = value("--port")?.parse().map_err(|_| "--port takes 0..=65535")?,
            "--seconds" => {
                options.seconds = value("--seconds")?.parse().map_err(|_| "--seconds takes a whole number")?;
                if !(1..=3600).contains(&options.seconds) {
                    return Err("--seconds must be between 1 and 3600".into());
                }
            }
            "--once" => options.once = true,
            other => return Err(format!("unknown argument {other:?} (options: --port P, --seconds N, --once)")),
        }
    }
    Ok(options)
}

/// Grows a map, then churns it, publishing its metrics every 100 ms until `deadline`.
fn workload(deadline: Instant) {
    let mut map: GoMap<u64, u64> = GoMap::new();
    let mut next = 0u64;
    let mut published = Instant::now();
    map.publish_metrics("demo");
    while Instant::now() < deadline {
        for _ in 0..2_000 {
            if next >= LIVE_KEYS {
                map.remove(&(next - LIVE_KEYS));
            }
            map.insert(next, next);
            next += 1;
        }
        if published.elapsed() >= Duration::from_millis(100) {
            map.publish_metrics("demo");
            published = Instant::now();
        }
        // About 200,000 writes a second: the growths take long enough to watch.
        thread::sleep(Duration::from_millis(10));
    }
    map.publish_metrics("demo");
}

/// Answers one HTTP request: the metrics on `/metrics` (and `/`), 404 elsewhere.
fn serve(stream: TcpStream, handle: &PrometheusHandle) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, content_type, body) = match path {
        "/metrics" | "/" => ("200 OK", "text/plain; version=0.0.4", handle.render()),
        _ => ("404 Not Found", "text/plain", "try /metrics\n".to_string()),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("prometheus example: {message}");
            return ExitCode::from(2);
        }
    };
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("no other recorder is installed");
    gomap::describe_metrics();

    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let worker = thread::spawn(move || workload(deadline));

    if options.once {
        thread::sleep(Duration::from_millis(500));
        print!("{}", handle.render());
        return ExitCode::SUCCESS;
    }

    let listener = match TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, options.port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("prometheus example: cannot listen on 127.0.0.1:{}: {e}", options.port);
            return ExitCode::FAILURE;
        }
    };
    listener.set_nonblocking(true).expect("a non-blocking listener");
    let addr = listener.local_addr().expect("a bound address");
    println!(
        "serving http://{addr}/metrics for {} s (a GoMap growing to {LIVE_KEYS} keys, then churning)",
        options.seconds
    );
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = serve(stream, &handle) {
                    eprintln!("prometheus example: request failed: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(20)),
            Err(e) => eprintln!("prometheus example: accept failed: {e}"),
        }
    }
    worker.join().expect("the workload thread");
    println!("done after {} s", options.seconds);
    ExitCode::SUCCESS
}

//! Prometheus metrics (`[metrics] listen`, `--metrics`), read with a real text-format parser
//! (the `prometheus-client` package's), against traffic from real libzmq peers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, tcp_addr, Broker};
use zedge_tests::systemd::ConfigRun;
use zedge_tests::PyPeer;

/// Scrapes argv[1] and prints each sample as `name{k=v,...} value`, labels sorted, parsed by
/// prometheus_client (which refuses what is not the text format).
const SCRAPE: &str = r#"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
r = urllib.request.urlopen(sys.argv[1], timeout=5)
assert r.status == 200, r.status
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
for fam in text_string_to_metric_families(r.read().decode()):
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
"#;

/// Every sample of `url`'s metrics, by `name{labels}`.
fn scrape(url: &str) -> BTreeMap<String, f64> {
    let out = PyPeer::spawn("scrape", SCRAPE, &[url.to_owned()], Duration::from_secs(20)).finish();
    out.lines()
        .map(|l| {
            let (k, v) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                k.to_owned(),
                v.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no sample {key}; have:\n{:#?}", m.keys()))
}

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

#[test]
fn metrics_parse_and_equal_the_traffic_of_every_device() {
    let (jf, jb, tf, tb) = (ep(), ep(), ep(), ep());
    let port = free_port();
    // The streamer keeps a spool, which its worker never needs: its families parse too.
    let spool = std::env::temp_dir().join(format!("zedge-metrics-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let spool = spool.display();
    let config = format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[[device]]\nname = \"jobs\"\n\
         kind = \"streamer\"\nfrontend = \"{jf}\"\nbackend = \"{jb}\"\nspool = \"{spool}\"\n\n\
         [[device]]\n\
         name = \"telemetry\"\nkind = \"forwarder\"\nfrontend = \"{tf}\"\nbackend = \"{tb}\"\n"
    );
    let mut run = ConfigRun::start(&config, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    run.wait_log("metrics on http://", deadline);
    let url = format!("http://127.0.0.1:{port}/metrics");

    // Streamer: 100 two-part messages of 3 + 4 bytes.
    let mut pull = Agent::connect("pull", "PULL", &jb, &[]);
    let mut push = Agent::connect("push", "PUSH", &jf, &[]);
    push.burst(100, &[b"abc"]); // frames "abc" and the sequence number
    let got = pull.drain(100, Duration::from_secs(3));
    assert_eq!(got.len(), 100);
    let seq_bytes: usize = (0..100).map(|i: u32| i.to_string().len()).sum();
    // Forwarder: one subscriber to "t", 20 publications on "t", 5 on "u" (filtered at the
    // publisher).
    let mut sub = Agent::connect("sub", "SUB", &tb, &["sub=74"]);
    let mut publ = Agent::connect("pub", "PUB", &tf, &[]);
    let wait = Instant::now() + Duration::from_secs(10);
    loop {
        publ.send(&[b"t-probe"]);
        if sub.recv(Duration::from_millis(100)).is_some() {
            break;
        }
        assert!(
            Instant::now() < wait,
            "the subscription never reached the publisher"
        );
    }
    let probes = sub.drain(1000, Duration::from_millis(300)).len() + 1;
    publ.burst(20, &[b"t"]);
    publ.burst(5, &[b"u"]);
    assert_eq!(sub.drain(20, Duration::from_secs(3)).len(), 20);
    // Not ZeroMQ: a handshake failure on the streamer's frontend.
    let mut junk = TcpStream::connect(tcp_addr(&jf)).unwrap();
    junk.write_all(&[0xff; 64]).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = junk.read_to_end(&mut Vec::new());
    std::thread::sleep(Duration::from_millis(300)); // a beat or two

    let m = scrape(&url);
    let jobs = |name: &str, side: &str| get(&m, &format!("{name}{{device=jobs,side={side}}}"));
    assert_eq!(jobs("zedge_messages_received_total", "frontend"), 100.0);
    assert_eq!(jobs("zedge_messages_sent_total", "backend"), 100.0);
    assert_eq!(
        jobs("zedge_bytes_received_total", "frontend"),
        (300 + seq_bytes) as f64
    );
    assert_eq!(
        jobs("zedge_bytes_sent_total", "backend"),
        (300 + seq_bytes) as f64
    );
    assert_eq!(jobs("zedge_peers", "frontend"), 1.0);
    assert_eq!(jobs("zedge_peers", "backend"), 1.0);
    assert_eq!(jobs("zedge_queued_bytes", "backend"), 0.0);
    assert_eq!(get(&m, "zedge_spool_messages{device=jobs}"), 0.0);
    assert_eq!(get(&m, "zedge_spool_spooling{device=jobs}"), 0.0);
    assert_eq!(
        get(&m, "zedge_spool_messages_total{device=jobs,event=appended}"),
        0.0
    );
    assert_eq!(
        get(&m, "zedge_spool_bytes_total{device=jobs,what=written}"),
        0.0
    );
    assert_eq!(
        get(
            &m,
            "zedge_handshake_failures_total{device=jobs,reason=greeting,side=frontend}"
        ),
        1.0
    );
    let tel = |name: &str, side: &str| get(&m, &format!("{name}{{device=telemetry,side={side}}}"));
    assert_eq!(
        tel("zedge_messages_received_total", "frontend"),
        (probes + 20) as f64
    );
    assert_eq!(
        tel("zedge_messages_sent_total", "backend"),
        (probes + 20) as f64
    );
    assert_eq!(get(&m, "zedge_subscriptions{device=telemetry}"), 1.0);
    assert_eq!(
        get(
            &m,
            "zedge_messages_dropped_total{device=telemetry,reason=hwm,side=backend}"
        ),
        0.0
    );
    assert_eq!(get(&m, "zedge_build_info{version=0.1.0}"), 1.0);
    assert!(get(&m, "process_resident_memory_bytes{}") > 1e6);
    assert!(get(&m, "process_open_fds{}") >= 10.0);
    assert!(get(&m, "process_cpu_seconds_total{}") >= 0.0);
    let start = get(&m, "process_start_time_seconds{}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        start <= now && now - start < 120.0,
        "start {start}, now {now}"
    );
    run.stop_clean();
}

#[test]
fn the_metrics_endpoint_answers_only_get_metrics_and_outlasts_hostile_clients() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut broker = Broker::start("queue", &["--metrics", &addr]);
    let http = |req: &[u8]| -> String {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(req).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    assert!(http(b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(http(b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    let huge = [&b"GET /metrics HTTP/1.1\r\nX: "[..], &[b'a'; 20_000]].concat();
    assert!(http(&huge).starts_with("HTTP/1.1 431"));
    // Connections that send nothing: the oldest make room; a scrape still gets through.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let m = scrape(&format!("http://{addr}/metrics"));
    assert_eq!(get(&m, "zedge_peers{device=queue,side=frontend}"), 0.0);
    drop(idle);
    broker.assert_running();
}

#[test]
fn zedge_stat_prints_each_device_from_the_metrics_endpoint() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut broker = Broker::start("streamer", &["--metrics", &addr]);
    let mut pull = Agent::connect("pull", "PULL", broker.backend(), &[]);
    let mut push = Agent::connect("push", "PUSH", broker.frontend(), &[]);
    push.burst(50, &[b"m"]);
    assert_eq!(pull.drain(50, Duration::from_secs(3)).len(), 50);
    let stat = |args: &[&str]| {
        let out = std::process::Command::new(zedge_tests::broker::zedge_bin())
            .arg("stat")
            .args(args)
            .output()
            .expect("run zedge stat");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.code(),
            text,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, table, err) = stat(&[&addr]);
    assert_eq!(code, Some(0), "{err}");
    assert!(table.starts_with("streamer (streamer)"), "{table}");
    let peers = table
        .lines()
        .find(|l| l.trim_start().starts_with("peers"))
        .unwrap_or_default();
    assert_eq!(
        peers.split_whitespace().collect::<Vec<_>>(),
        ["peers", "1", "1"],
        "{table}"
    );
    assert!(table.contains("messages/s in"), "{table}");
    let (code, json, err) = stat(&["--json", &addr]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        json.starts_with("{\"streamer\":{\"peers\":{\"frontend\":1.0,"),
        "{json}"
    );
    // The URL zedge prints is taken too, and its table is aligned: every line ends at one
    // column, the headings' too.
    let (code, table, err) = stat(&[&format!("http://{addr}/metrics")]);
    assert_eq!(code, Some(0), "{err}");
    let widths: Vec<usize> = table
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::len)
        .collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "{table}");
    // A device's ZMTP endpoint is no metrics endpoint, and is told so.
    let backend = broker.backend().trim_start_matches("tcp://").to_owned();
    let (code, _, err) = stat(&[&backend]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!(
            "zedge stat: {backend} is no metrics endpoint: it speaks ZeroMQ (a device's \
             endpoint?); give the address of [metrics] listen, or --metrics\n"
        )
    );
    // Nobody there: a clear error and status 1.
    let (code, _, err) = stat(&["127.0.0.1:1"]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("zedge stat: http://127.0.0.1:1/metrics: "),
        "{err}"
    );
    broker.assert_running();
}

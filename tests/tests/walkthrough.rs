//! board/README's fresh install, step by step, as far as a machine without systemd and root
//! allows: the shipped config (its ports moved to free ones, /run/zedge to a directory of the
//! test's, as the package and the unit would provide them), `zedge check-config`, `zedge run`,
//! `zedge sub` on the loopback backend with `zedge pub` on the frontend, `zedge stat`, then
//! section 5's opening to the network: `zedge keygen`, the frontend on every interface with
//! `curve_secret`, a reload, CURVE clients with the server's key get through and one without
//! is refused. Each command is the README's (the test checks the README still says it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zedge_tests::broker::free_port;
use zedge_tests::clients::{client, finish};
use zedge_tests::systemd::{temp_path, zedge, ConfigRun};

fn board(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../board")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `zedge check-config` on `config` (written to a file of its own): its stdout, the check
/// having passed.
fn check_config(config: &str) -> String {
    let path = temp_path("check.toml");
    std::fs::write(&path, config).expect("write the config");
    let out = zedge(&["check-config", path.to_str().expect("utf-8 path")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `zedge sub EP ... --count 1` beside `zedge pub EP sensors/t1 21.5 ...` (repeated until the
/// subscription has travelled): what the subscriber printed.
fn sub_and_pub(sub: &[&str], publish: &[&str]) -> String {
    let s = client(&[&["sub"], sub, &["--count", "1"]].concat());
    let p = client(&[&["pub"], publish, &["--count", "100", "--rate", "20"]].concat());
    let got = finish(s, Duration::from_secs(15));
    let _ = finish(p, Duration::from_secs(15));
    assert!(got.status.success(), "{}", text(&got.stderr));
    text(&got.stdout)
}

#[test]
fn the_fresh_install_walkthrough_works_as_board_readme_tells_it() {
    let readme = board("README.md");
    for step in [
        "sudo apt install ./zedge_0.1.0-1_arm64.deb",
        "zedge sub tcp://127.0.0.1:5560",
        "zedge pub tcp://127.0.0.1:5559 sensors/t1 21.5",
        "zedge stat ",
        "zedge check-config /etc/zedge/zedge.toml",
        "sudo zedge keygen /etc/zedge/telemetry",
        "#   frontend = [\"tcp://*:5559\"]",
        "#   curve_secret = \"/etc/zedge/telemetry_secret\"",
    ] {
        assert!(
            readme.contains(step),
            "board/README.md no longer says {step:?}"
        );
    }

    // 1. Installed: the shipped config, as the package puts it in /etc/zedge, on free ports,
    // its IPC directory (which the unit makes) the test's own.
    let run_dir = temp_path("run-zedge");
    std::fs::create_dir_all(&run_dir).expect("the run directory");
    let ports: Vec<u16> = (0..7).map(|_| free_port()).collect();
    let mut config = board("zedge.toml").replace("/run/zedge", &run_dir.display().to_string());
    let shipped = ["5559", "5560", "5561", "5562", "9559", "5563", "5564"];
    for (shipped, port) in shipped.iter().zip(&ports) {
        config = config.replace(&format!(":{shipped}\""), &format!(":{port}\""));
    }
    let [fe, be, _, _, metrics, _, _] = [0, 1, 2, 3, 4, 5, 6].map(|i| ports[i]);
    assert!(config.contains(&format!("frontend = [\"tcp://127.0.0.1:{fe}\"]")));
    let summary = check_config(&config);
    assert!(summary.contains("telemetry: forwarder"), "{summary}");
    let mut run = ConfigRun::start(&config, &[]);
    run.wait_log(
        &format!("telemetry backend listening on tcp://127.0.0.1:{be}"),
        Instant::now() + Duration::from_secs(10),
    );
    assert!(
        !run.stderr().contains("beyond this host"),
        "the shipped config warned of being open:\n{}",
        run.stderr()
    );

    // 2. A subscriber to everything on the telemetry backend, a message published on its
    // frontend.
    let fe_ep = format!("tcp://127.0.0.1:{fe}");
    let be_ep = format!("tcp://127.0.0.1:{be}");
    let got = sub_and_pub(&[&be_ep], &[&fe_ep, "sensors/t1", "21.5"]);
    assert_eq!(got, "sensors/t1\t21.5\n");

    // 3. zedge stat: the devices' counters, from the metrics (ADDR given: this machine's
    // /etc/zedge/zedge.toml is not the test's).
    let out = zedge(&["stat", &format!("127.0.0.1:{metrics}")]);
    let stat = text(&out.stdout);
    assert!(out.status.success(), "{stat}{}", text(&out.stderr));
    assert!(
        stat.contains("telemetry") && stat.contains("rpc") && stat.contains("jobs"),
        "{stat}"
    );

    // 5. Open it to the network: a key pair, the frontend on every interface, CURVE.
    let keys = temp_path("etc-zedge");
    std::fs::create_dir_all(&keys).expect("the key directory");
    let name: PathBuf = keys.join("telemetry");
    let out = zedge(&["keygen", name.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let server_key = text(&out.stdout).trim().to_owned();
    assert_eq!(server_key.len(), 40, "a Z85 public key: {server_key:?}");
    let secret = format!("{}_secret", name.display());
    let opened = config.replacen(
        &format!("frontend = [\"tcp://127.0.0.1:{fe}\"]"),
        &format!("frontend = [\"tcp://*:{fe}\"]\ncurve_secret = \"{secret}\""),
        1,
    );
    assert_ne!(opened, config);
    let summary = check_config(&opened);
    assert!(summary.contains("curve"), "{summary}");
    run.reload(&opened);
    run.wait_log(
        &format!("telemetry frontend listening on tcp://*:{fe}"),
        Instant::now() + Duration::from_secs(10),
    );
    assert!(
        !run.stderr().contains("beyond this host without"),
        "opened with CURVE, yet warned:\n{}",
        run.stderr()
    );
    // Clients with the server's key get through (every side of the device takes CURVE now).
    let got = sub_and_pub(
        &[&be_ep, "--curve-server-key", &server_key],
        &[
            &fe_ep,
            "sensors/t1",
            "21.5",
            "--curve-server-key",
            &server_key,
        ],
    );
    assert_eq!(got, "sensors/t1\t21.5\n");
    // One without it is refused, and says so.
    let out = finish(
        client(&["pub", &fe_ep, "sensors/t1", "21.5", "--timeout", "3s"]),
        Duration::from_secs(15),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).is_empty());
    run.assert_running();
    run.stop_clean();
}

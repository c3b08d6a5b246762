//! `canopy top` driven in a real terminal (tmux): it shows non-zero rates
//! under load, and quits cleanly on q and on Ctrl-C.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A private tmux server, killed on drop.
struct Terminal {
    tmux: PathBuf,
    socket: String,
}

impl Terminal {
    fn start(command: &str) -> Terminal {
        let t = Terminal {
            tmux: system_tool("tmux", "tmux"),
            socket: format!("canopy-top-{}-{}", std::process::id(), free_base_port()),
        };
        let status = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "top",
                "-x",
                "150",
                "-y",
                "40",
                command,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session");
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.tmux);
        c.args(["-L", &self.socket]).args(args);
        c
    }

    fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "top"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(self
            .cmd(&["send-keys", "-t", "top", keys])
            .status()
            .unwrap()
            .success());
    }

    fn alive(&self) -> bool {
        self.cmd(&["has-session", "-t", "top"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self
            .cmd(&["kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The per-second figure on the screen's line for `label`.
fn rate_on(screen: &str, label: &str) -> Option<f64> {
    let line = screen.lines().find(|l| l.contains(label))?;
    let after = &line[line.find(label)? + label.len()..];
    after
        .split_whitespace()
        .next()?
        .trim_matches('│')
        .parse()
        .ok()
}

/// Plain ZeroMQ traffic through the broker until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(broker: &BrokerProcess) -> Load {
        let (xpub, xsub) = (broker.endpoint_at(1), broker.endpoint_at(2));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let sub = ctx.socket(zmq::SUB).unwrap();
            sub.connect(&xpub).unwrap();
            sub.set_subscribe(b"load").unwrap();
            let publisher = ctx.socket(zmq::PUB).unwrap();
            publisher.connect(&xsub).unwrap();
            while !flag.load(Ordering::Relaxed) {
                for _ in 0..10 {
                    publisher
                        .send_multipart([&b"load"[..], &b"x"[..]], 0)
                        .unwrap();
                }
                while sub.recv_multipart(zmq::DONTWAIT).is_ok() {}
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Load {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `canopy top` in tmux; its exit code lands in `code_file`.
fn top_in_terminal(broker: &BrokerProcess, code_file: &std::path::Path) -> Terminal {
    let command = format!(
        "{} --broker {} top --interval 0.5; echo $? > {}",
        cli_bin(),
        broker.endpoint(),
        code_file.display()
    );
    Terminal::start(&command)
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn exit_code(terminal: &Terminal, code_file: &std::path::Path) -> String {
    wait_for("canopy top to exit", || !terminal.alive());
    std::fs::read_to_string(code_file)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn top_shows_live_rates_under_load_and_quits_on_q() {
    let broker = BrokerProcess::start(&[]);
    let _load = Load::start(&broker);
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    let terminal = top_in_terminal(&broker, &code);
    let mut last = String::new();
    wait_for("non-zero event rates on the screen", || {
        last = terminal.screen();
        rate_on(&last, "events in").is_some_and(|r| r > 0.0)
            && rate_on(&last, "events out").is_some_and(|r| r > 0.0)
    });
    assert!(
        last.contains("slowest subscribers") && last.contains("links"),
        "{last}"
    );
    assert!(last.contains("canopy top"), "{last}");
    terminal.keys("q");
    assert_eq!(exit_code(&terminal, &code), "0", "q is a clean exit");
}

#[test]
fn top_quits_cleanly_on_ctrl_c() {
    let broker = BrokerProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    let terminal = top_in_terminal(&broker, &code);
    wait_for("the first screen", || terminal.screen().contains("rates"));
    terminal.keys("C-c");
    assert_eq!(exit_code(&terminal, &code), "0", "Ctrl-C is a clean exit");
}

#[test]
fn top_refuses_to_run_without_a_terminal() {
    let out = Command::new(cli_bin())
        .args(["--broker", "tcp://127.0.0.1:1", "top"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}

//! `canopy top`: a live terminal view of one broker, refreshed every
//! interval: rates per second (not totals) of events in, out and dropped,
//! writes, snapshots; the nodes that lose the most (slow subscribers); the
//! child broker links and this broker's own link. Drawn with ratatui; quits
//! on q, Esc or Ctrl-C and always gives the terminal back.

use super::Cli;
use anyhow::Context;
use canopy_client::admin;
use canopy_schemas::control::{NodeInfo, StatsReport};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Arguments of `canopy top`.
#[derive(clap::Args, Debug)]
pub struct TopArgs {
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
}

/// One sample of the broker.
struct Sample {
    at: Instant,
    stats: StatsReport,
    nodes: Vec<NodeInfo>,
}

/// The figures shown, from two samples.
#[derive(Default)]
struct View {
    title: String,
    rates: Vec<(&'static str, String)>,
    slowest: Vec<[String; 5]>,
    links: Vec<[String; 5]>,
    status: String,
}

/// What one rate line adds up: (label, counters summed).
const RATES: &[(&str, &[&str])] = &[
    ("events in", &["events_in"]),
    ("events out", &["events_out"]),
    (
        "events dropped",
        &[
            "events_rejected_frames",
            "events_rejected_oversize",
            "events_rejected_topic",
            "events_rejected_reserved",
            "events_rejected_header",
            "events_send_errors",
            "acl_publish_denied",
        ],
    ),
    ("lost at nodes", &["drops_reported"]),
    ("MB in", &["event_bytes_in"]),
    ("MB out", &["event_bytes_out"]),
    ("writes", &["writes", "kvsets"]),
    ("writes refused", &["writes_rejected", "kvset_rejected"]),
    ("state updates", &["state_updates"]),
    ("snapshots", &["snapshots"]),
    (
        "limits hit",
        &[
            "connections_refused",
            "nodes_limit_hits",
            "subscription_limit_hits",
            "subscription_connection_limit_hits",
            "store_limit_hits",
            "requests_inflight_limited",
            "snapshots_rate_limited",
        ],
    ),
    ("link drops up", &["link_drops_up"]),
];

fn sum(stats: &StatsReport, names: &[&str]) -> u64 {
    names
        .iter()
        .filter_map(|n| stats.counters.get(*n))
        .fold(0u64, |a, b| a.saturating_add(*b))
}

fn per_second(now: u64, before: u64, seconds: f64) -> f64 {
    now.saturating_sub(before) as f64 / seconds.max(1e-3)
}

fn rate_text(label: &str, value: f64) -> String {
    if label.starts_with("MB") {
        format!("{:.2}", value / 1e6)
    } else {
        format!("{value:.0}")
    }
}

impl View {
    fn of(now: &Sample, before: Option<&Sample>, broker: &str) -> View {
        let s = &now.stats;
        let title = format!(
            " canopy top: {broker}  broker {}  epoch {}  up {}s  {} nodes  {} prefixes ",
            s.broker_id,
            s.epoch,
            s.uptime_s,
            s.nodes,
            s.counters.get("subscriptions_active").copied().unwrap_or(0)
        );
        let seconds = before.map(|b| now.at.duration_since(b.at).as_secs_f64());
        let rates = RATES
            .iter()
            .map(|(label, names)| {
                let text = match (before, seconds) {
                    (Some(b), Some(secs)) => {
                        rate_text(label, per_second(sum(s, names), sum(&b.stats, names), secs))
                    }
                    _ => "…".into(),
                };
                (*label, text)
            })
            .collect();
        let previous: HashMap<&str, &NodeInfo> = before
            .map(|b| b.nodes.iter().map(|n| (n.path.as_str(), n)).collect())
            .unwrap_or_default();
        let secs = seconds.unwrap_or(1.0);
        let mut losing: Vec<(f64, &NodeInfo)> = now
            .nodes
            .iter()
            .filter(|n| n.link.is_none())
            .map(|n| {
                let was = previous
                    .get(n.path.as_str())
                    .map_or(n.dropped, |p| p.dropped);
                (per_second(n.dropped, was, secs), n)
            })
            .collect();
        losing.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.dropped.cmp(&a.1.dropped)));
        let slowest = losing
            .iter()
            .take(10)
            .map(|(rate, n)| {
                [
                    n.path.clone(),
                    format!("{rate:.0}"),
                    n.dropped.to_string(),
                    n.subscriptions.to_string(),
                    format!("{} ms", n.last_seen_ms_ago),
                ]
            })
            .collect();
        let mut links: Vec<[String; 5]> = Vec::new();
        // A child broker (it has joined, synced or tried): its own link.
        let counter = |name: &str| s.counters.get(name).copied().unwrap_or(0);
        let up = counter("link_up") == 1;
        if up || counter("link_resyncs") > 0 || counter("link_handshake_failures") > 0 {
            let rate = |name: &str| match before {
                Some(b) => format!(
                    "{:.0}",
                    per_second(sum(s, &[name]), sum(&b.stats, &[name]), secs)
                ),
                None => "…".into(),
            };
            links.push([
                format!("parent ({})", if up { "up" } else { "down" }),
                rate("link_events_up"),
                rate("link_events_down"),
                counter("link_state_lag").to_string(),
                rate("link_drops_up"),
            ]);
        }
        let mut children: Vec<&NodeInfo> = now.nodes.iter().filter(|n| n.link.is_some()).collect();
        children.sort_by_key(|n| std::cmp::Reverse(n.link.as_ref().map_or(0, |l| l.state_lag)));
        for n in children {
            let Some(l) = &n.link else { continue };
            let was = previous.get(n.path.as_str()).and_then(|p| p.link.as_ref());
            let rate = |now: u64, then: Option<u64>| match then {
                Some(t) => format!("{:.0}", per_second(now, t, secs)),
                None => "…".into(),
            };
            links.push([
                format!("child {}", n.path),
                rate(l.events_up, was.map(|w| w.events_up)),
                rate(l.events_down, was.map(|w| w.events_down)),
                l.state_lag.to_string(),
                rate(n.dropped, previous.get(n.path.as_str()).map(|p| p.dropped)),
            ]);
        }
        View {
            title,
            rates,
            slowest,
            links,
            status: "q quit".into(),
        }
    }
}

/// Raw mode and the alternate screen, undone on drop (also when the
/// command is stopped by a signal or fails).
struct Screen;

impl Screen {
    fn enter() -> anyhow::Result<Self> {
        terminal::enable_raw_mode().context("raw mode")?;
        let screen = Screen;
        ratatui::crossterm::execute!(std::io::stdout(), terminal::EnterAlternateScreen)
            .context("alternate screen")?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

fn draw(frame: &mut ratatui::Frame, view: &View) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let bold = Style::default().add_modifier(Modifier::BOLD);
    frame.render_widget(
        Paragraph::new(Line::styled(view.title.clone(), bold)),
        header,
    );
    let [rates, right] =
        Layout::horizontal([Constraint::Length(34), Constraint::Min(0)]).areas(body);
    let rate_rows = view
        .rates
        .iter()
        .map(|(label, value)| Row::new([label.to_string(), value.clone()]));
    frame.render_widget(
        Table::new(rate_rows, [Constraint::Length(16), Constraint::Length(14)])
            .header(Row::new(["", "per second"]).style(bold))
            .block(Block::default().borders(Borders::ALL).title(" rates ")),
        rates,
    );
    let [slow, links] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
    let widths = [
        Constraint::Min(24),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(10),
    ];
    frame.render_widget(
        Table::new(view.slowest.iter().map(|r| Row::new(r.clone())), widths)
            .header(Row::new(["node", "lost/s", "lost", "subs", "seen"]).style(bold))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" slowest subscribers "),
            ),
        slow,
    );
    frame.render_widget(
        Table::new(view.links.iter().map(|r| Row::new(r.clone())), widths)
            .header(Row::new(["link", "up/s", "down/s", "lag", "drops/s"]).style(bold))
            .block(Block::default().borders(Borders::ALL).title(" links ")),
        links,
    );
    frame.render_widget(Paragraph::new(view.status.clone()), footer);
}

/// True when a key asks to quit (q, Esc, Ctrl-C: raw mode turns Ctrl-C
/// into a key, not a signal).
fn quit_pressed() -> anyhow::Result<bool> {
    while event::poll(Duration::ZERO)? {
        if let Event::Key(key) = event::read()? {
            if key.kind != KeyEventKind::Press {
                continue;
            }
            let ctrl_c =
                key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
            if ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

async fn sample(cli: &Cli, curve: Option<&canopy_client::CurveKeys>) -> anyhow::Result<Sample> {
    let stats = admin::stats_with(&cli.broker, cli.timeout(), curve).await?;
    let nodes = admin::nodes_with(&cli.broker, None, cli.timeout(), curve).await?;
    Ok(Sample {
        at: Instant::now(),
        stats,
        nodes,
    })
}

/// Runs `canopy top` until q, Esc or Ctrl-C.
pub async fn run(cli: &Cli, args: &TopArgs) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        return Err(crate::UsageError(
            "canopy top needs a terminal; for scripts use canopy stats --json or the broker's /stats"
                .into(),
        )
        .into());
    }
    let curve = cli.curve()?;
    let interval = Duration::from_secs_f64(args.interval.clamp(0.1, 3600.0));
    // The first sample before the screen changes: an unreachable broker is
    // one clear error on a normal terminal.
    let mut last = sample(cli, curve.as_ref())
        .await
        .with_context(|| format!("asking {} for stats", cli.broker))?;
    let mut view = View::of(&last, None, &cli.broker);
    let _screen = Screen::enter()?;
    let mut term =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
            .context("terminal")?;
    term.clear()?;
    let mut next = Instant::now() + interval;
    loop {
        term.draw(|frame| draw(frame, &view))?;
        loop {
            if quit_pressed()? {
                return Ok(());
            }
            if Instant::now() >= next {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        next = Instant::now() + interval;
        match sample(cli, curve.as_ref()).await {
            Ok(now) => {
                view = View::of(&now, Some(&last), &cli.broker);
                last = now;
            }
            Err(e) => view.status = format!("q quit | {}: {e}", cli.broker),
        }
    }
}

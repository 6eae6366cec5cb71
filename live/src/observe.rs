//! The service side of each timeline window: replicas, pods pending, nodes per pool, GPUs,
//! queue depth and cost, from whatever can tell (a Prometheus text endpoint such as the
//! testbed's `/metrics`), and markers of faults injected while the window was open.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

/// What an observer saw of the service at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Replicas asked for.
    pub replicas_desired: u32,
    /// Replicas ready.
    pub replicas_ready: u32,
    /// Pods waiting for a node or starting.
    pub pods_pending: u32,
    /// Nodes per pool.
    pub nodes: BTreeMap<String, u32>,
    /// GPUs held by pods.
    pub gpus_allocated: u32,
    /// GPU utilisation, 0-1.
    pub gpu_util: f64,
    /// Requests waiting.
    pub queue_depth: u32,
    /// Cost so far.
    pub cost_usd: f64,
}

/// Something that can tell the service's state; called from the collector thread at every
/// window's end, so it must answer quickly.
pub trait Observer: Sync {
    /// The state now, or `None` when it cannot be read (the window keeps zeros).
    fn observe(&self) -> Option<Observed>;

    /// Markers of what happened since the last call (e.g. `pod-eviction@6m`).
    fn markers(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Sees nothing: plain load against an endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&self) -> Option<Observed> {
        None
    }
}

/// Reads `scalebench_*` metrics in Prometheus text format from `GET <path>` on `addr` (the
/// testbed's names), and hands on markers pushed with [`PrometheusObserver::mark`].
#[derive(Debug)]
pub struct PrometheusObserver {
    addr: SocketAddr,
    path: String,
    markers: Mutex<Vec<String>>,
}

impl PrometheusObserver {
    /// An observer of `http://addr/path`.
    pub fn new(addr: SocketAddr, path: &str) -> Self {
        PrometheusObserver {
            addr,
            path: path.to_string(),
            markers: Mutex::new(Vec::new()),
        }
    }

    /// Adds a marker for the open window.
    pub fn mark(&self, marker: String) {
        if let Ok(mut m) = self.markers.lock() {
            m.push(marker);
        }
    }
}

impl Observer for PrometheusObserver {
    fn observe(&self) -> Option<Observed> {
        let (status, body) = request(self.addr, "GET", &self.path, None).ok()?;
        (status == 200).then(|| parse(&body))
    }

    fn markers(&self) -> Vec<String> {
        self.markers
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

/// One small HTTP/1.0 request (`Connection: close`), bounded to half a second each way: for
/// observers and admin APIs, not for load. Returns the status and the body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let t = Duration::from_millis(500);
    let mut s = TcpStream::connect_timeout(&addr, t)?;
    s.set_read_timeout(Some(t))?;
    s.set_write_timeout(Some(t))?;
    let body = json.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))?;
    Ok((status, body.to_string()))
}

/// The `scalebench_*` samples of a Prometheus text exposition.
pub fn parse(text: &str) -> Observed {
    let mut o = Observed::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let n = v.max(0.0).round() as u32;
        match name {
            "scalebench_replicas_desired" => o.replicas_desired = n,
            "scalebench_replicas_ready" => o.replicas_ready = n,
            "scalebench_pods_pending" => o.pods_pending = n,
            "scalebench_gpus_allocated" => o.gpus_allocated = n,
            "scalebench_gpu_utilization" => o.gpu_util = v,
            "scalebench_queue_depth" => o.queue_depth = n,
            "scalebench_cost_usd_total" => o.cost_usd = v,
            "scalebench_nodes" => {
                if let Some(pool) = label(labels, "pool") {
                    o.nodes.insert(pool, n);
                }
            }
            _ => {}
        }
    }
    o
}

/// The value of `key` in `a="x",b="y"` (quotes and `\"` escapes handled).
fn label(labels: &str, key: &str) -> Option<String> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let mut out = String::new();
    let mut chars = labels[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_testbeds_metrics() {
        let text = "# HELP scalebench_replicas_ready Ready replicas.\n\
            # TYPE scalebench_replicas_ready gauge\n\
            scalebench_replicas_ready 3\n\
            scalebench_replicas_desired 5\n\
            scalebench_nodes{pool=\"gpu-spot\"} 2\n\
            scalebench_nodes{pool=\"od \\\"x\\\"\"} 1\n\
            scalebench_gpu_utilization 0.625\n\
            scalebench_cost_usd_total 1.5e-2\n\
            scalebench_requests_total{outcome=\"ok\"} 12\n";
        let o = parse(text);
        assert_eq!((o.replicas_ready, o.replicas_desired), (3, 5));
        assert_eq!(o.nodes.get("gpu-spot"), Some(&2));
        assert_eq!(o.nodes.get("od \"x\""), Some(&1));
        assert_eq!((o.gpu_util, o.cost_usd), (0.625, 0.015));
    }
}

//! `--metrics-listen HOST:PORT`: what every daemon command serves for its operator. `GET /metrics`
//! (Prometheus text: the library's metrics of the components the command runs), `GET /healthz`
//! (200 while the process runs) and `GET /readyz` (200 while the command can do its job, else 503
//! with the reason as the body).

use std::net::SocketAddr;

use actix_web::{App, HttpResponse, HttpServer, web};
use jellyfish_notifier::metrics::prometheus_client::encoding::text::encode;
use jellyfish_notifier::metrics::prometheus_client::registry::Registry;
use jellyfish_notifier::metrics::{
    BridgeMetrics, ForwardMetrics, NotifierMetrics, RoomsViewMetrics, WebhookMetrics,
};

use crate::Outcome;

/// `--metrics-listen`, for every daemon command.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct WatchArgs {
    /// Serve /metrics (Prometheus), /healthz and /readyz on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "HOST:PORT")]
    metrics_listen: Option<SocketAddr>,
}

type Check = Box<dyn Fn() -> Result<(), String> + Send + Sync>;
type Refresh = Box<dyn Fn() + Send + Sync>;

/// The metrics a command registers and the checks of its readiness, until [`Watch::serve`].
pub(crate) struct Watch {
    listen: Option<SocketAddr>,
    registry: Registry,
    checks: Vec<Check>,
    refresh: Vec<Refresh>,
}

impl Watch {
    pub(crate) fn new(args: &WatchArgs) -> Self {
        Self {
            listen: args.metrics_listen,
            registry: Registry::default(),
            checks: Vec::new(),
            refresh: Vec::new(),
        }
    }

    /// The registry, for metrics of the command's own.
    pub(crate) fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Ready only while `check` says so.
    pub(crate) fn ready_when(
        &mut self,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.checks.push(Box::new(check));
    }

    /// Runs `refresh` before every scrape (for numbers read from elsewhere).
    pub(crate) fn before_scrape(&mut self, refresh: impl Fn() + Send + Sync + 'static) {
        self.refresh.push(Box::new(refresh));
    }

    /// The notifier's metrics; ready only while it is connected to `url` and subscribed.
    pub(crate) fn notifier(&mut self, url: &str) -> NotifierMetrics {
        let metrics = NotifierMetrics::register(&mut self.registry);
        let connected = metrics.clone();
        let url = jellyfish_notifier::nats::redacted(url);
        self.ready_when(move || {
            if connected.is_connected() {
                Ok(())
            } else {
                Err(format!("not connected to {url}"))
            }
        });
        metrics
    }

    pub(crate) fn forward(&mut self) -> ForwardMetrics {
        ForwardMetrics::register(&mut self.registry)
    }

    pub(crate) fn webhook(&mut self) -> WebhookMetrics {
        WebhookMetrics::register(&mut self.registry)
    }

    /// The bridge's metrics; ready only while JetStream at `url` can store into the stream.
    pub(crate) fn bridge(&mut self, url: &str) -> BridgeMetrics {
        let metrics = BridgeMetrics::register(&mut self.registry);
        let ready = metrics.clone();
        let url = jellyfish_notifier::nats::redacted(url);
        self.ready_when(move || {
            if ready.is_ready() {
                Ok(())
            } else {
                Err(format!(
                    "NATS JetStream at {url} cannot store (not connected, or the stream is missing)"
                ))
            }
        });
        metrics
    }

    /// The rooms view's metrics; ready only while it is synced.
    pub(crate) fn rooms_view(&mut self) -> RoomsViewMetrics {
        let metrics = RoomsViewMetrics::register(&mut self.registry);
        let synced = metrics.clone();
        self.ready_when(move || {
            if synced.is_synced() {
                Ok(())
            } else {
                Err("the rooms view is not synced with the server".to_owned())
            }
        });
        metrics
    }

    /// Serves the endpoints, if `--metrics-listen` was given; the server lives as long as the
    /// command's actix system.
    pub(crate) fn serve(self) -> Result<(), Outcome> {
        let Some(listen) = self.listen else {
            return Ok(());
        };
        let shared = web::Data::new(Shared {
            registry: self.registry,
            checks: self.checks,
            refresh: self.refresh,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/metrics", web::get().to(metrics))
                .route(
                    "/healthz",
                    web::get().to(|| async { HttpResponse::Ok().body("ok\n") }),
                )
                .route("/readyz", web::get().to(readyz))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(listen)
        .map_err(|err| {
            Outcome::Failed(format!(
                "cannot listen on {listen} for --metrics-listen: {err}"
            ))
        })?;
        for addr in server.addrs() {
            say!("metrics on http://{addr}/metrics (and /healthz, /readyz)");
        }
        actix_web::rt::spawn(server.run());
        Ok(())
    }
}

struct Shared {
    registry: Registry,
    checks: Vec<Check>,
    refresh: Vec<Refresh>,
}

/// The metrics in OpenMetrics text when the scraper asks for it (Prometheus does), else in the
/// classic Prometheus text format (what `promtool check metrics`, curl and older scrapers read).
async fn metrics(req: actix_web::HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    for refresh in &shared.refresh {
        refresh();
    }
    let mut body = String::new();
    if let Err(err) = encode(&mut body, &shared.registry) {
        return HttpResponse::InternalServerError()
            .body(format!("cannot encode the metrics: {err}\n"));
    }
    let open_metrics = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    if open_metrics {
        HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(body)
    } else {
        HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(classic(&body))
    }
}

/// OpenMetrics text as the classic Prometheus text format: a counter's HELP and TYPE name its
/// samples (`x_total`, not the family `x`), and there is no `# UNIT` or `# EOF`. Gauges and
/// histograms read the same in both.
fn classic(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match described {
            Some(line) => text.push_str(&line),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

async fn readyz(shared: web::Data<Shared>) -> HttpResponse {
    match shared.checks.iter().try_for_each(|check| check()) {
        Ok(()) => HttpResponse::Ok().body("ready\n"),
        Err(reason) => HttpResponse::ServiceUnavailable().body(format!("{reason}\n")),
    }
}

/// Keeps a counter equal to a total read from elsewhere (it only ever grows).
pub(crate) fn follow(
    counter: &jellyfish_notifier::metrics::prometheus_client::metrics::counter::Counter,
    total: u64,
) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_described_by_their_samples_name_and_open_metrics_lines_go() {
        let open = "# HELP a_things Things.\n# TYPE a_things counter\na_things_total{k=\"v\"} 2\n# HELP b Level.\n# TYPE b gauge\n# UNIT b bytes\nb 1\n# EOF\n";
        assert_eq!(
            classic(open),
            "# HELP a_things_total Things.\n# TYPE a_things_total counter\na_things_total{k=\"v\"} 2\n# HELP b Level.\n# TYPE b gauge\nb 1\n"
        );
    }
}

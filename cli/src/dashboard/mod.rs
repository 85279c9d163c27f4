//! `jellyfish-notify dashboard`: a page at `/` with every room, peer and track, kept current by the
//! rooms view over server-sent events; a log of the latest notifications with the gaps and
//! resyncs; the connection's badge; per-peer WebRTC numbers; and, when the server is the emulator,
//! controls to drive it. Everything the page needs is in the binary.

mod hub;

use std::net::SocketAddr;

use actix::prelude::*;
use actix_web::http::{Method, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jellyfish_notifier::{RoomApi, RoomsView};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::output;
use crate::rooms::ViewParts;
use crate::watch::WatchArgs;
use crate::{Outcome, ServerArgs};
use hub::{CLIENT_BACKLOG, Hub, Join};

/// Serve a live page of every room, peer and track, the latest notifications, the connection and
/// the peers' WebRTC numbers; with the emulator, controls to create rooms and peers and to inject
/// faults. The page needs nothing from the internet.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  jellyfish-notify dashboard                             # localhost:5002 → http://127.0.0.1:5080/
  jellyfish-notify emulate & jellyfish-notify dashboard  # drive the emulator by hand
  JF_SERVER_API_TOKEN=$TOKEN jellyfish-notify dashboard --server jellyfish.internal:5002")]
pub(crate) struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Where the page is served (loopback by default: the page can create and delete rooms).
    #[arg(long, default_value = "127.0.0.1:5080")]
    listen: SocketAddr,
    #[command(flatten)]
    watch: WatchArgs,
}

const INDEX: &str = include_str!("../../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../../assets/dashboard/app.js");
const STYLE: &str = include_str!("../../assets/dashboard/app.css");

pub(crate) async fn run(args: Args) -> Outcome {
    let ViewParts {
        url,
        builder,
        api,
        view_metrics,
    } = match ViewParts::of(&args.server, &args.watch) {
        Ok(parts) => parts,
        Err(outcome) => return outcome,
    };
    // The emulator says so at GET /emulator; a real server answers 404 there.
    let emulator = api.request(Method::GET, "/emulator", None).await.is_ok();
    let hub = Hub::new(emulator).start();
    let (reporter, failed_rx) = output::ConnectionReporter::start(&url);
    let notifier = match builder
        .subscribe_connection_events(reporter.recipient())
        .subscribe_connection_events(hub.clone().recipient())
        .subscribe_metrics(hub.clone().recipient())
        .try_start()
    {
        Ok(notifier) => notifier,
        Err(err) => return output::notifier_failure(err, &url),
    };
    let _view = RoomsView::builder(api.clone())
        .metrics(view_metrics)
        .notifier(notifier.clone())
        .subscribe(hub.clone().recipient())
        .start();
    // Only under the names it listens on: a page whose own name was made to point here (DNS
    // rebinding) asks with another Host, and gets nothing.
    let hosts = web::Data::new(vec![
        args.listen.to_string(),
        format!("localhost:{}", args.listen.port()),
    ]);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(hub.clone()))
            .app_data(web::Data::new(api.clone()))
            .app_data(hosts.clone())
            .configure(routes)
            .wrap_fn(|req, service| {
                use actix_web::dev::Service as _;
                use futures_util::future::Either;
                let known = req
                    .app_data::<web::Data<Vec<String>>>()
                    .is_some_and(|hosts| hosts.iter().any(|h| *h == req.connection_info().host()));
                if known {
                    Either::Right(service.call(req))
                } else {
                    let response = HttpResponse::MisdirectedRequest()
                        .body("the dashboard answers only under the address it listens on");
                    Either::Left(std::future::ready(Ok(req.into_response(response))))
                }
            })
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(args.listen);
    let server = match server {
        Ok(server) => server,
        Err(err) => {
            return Outcome::Failed(format!(
                "cannot listen on {} for the dashboard: {err}",
                args.listen
            ));
        }
    };
    for addr in server.addrs() {
        say!(
            "dashboard on http://{addr}/ ({})",
            if emulator {
                "the server is the emulator: its controls are on"
            } else {
                "read-only: the server is not the emulator"
            }
        );
    }
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let outcome = output::until_stopped(&notifier, &url, failed_rx).await;
    handle.stop(true).await;
    outcome
}

/// The page, its script and style, the event stream, and the control proxy.
fn routes(config: &mut web::ServiceConfig) {
    config
        .route(
            "/",
            web::get().to(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            web::get().to(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/app.css",
            web::get().to(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/events", web::get().to(events))
        .route("/api/request", web::post().to(control));
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        // The page loads nothing from anywhere else, and may not.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /events`: the snapshot, then the batched deltas, as server-sent events.
async fn events(hub: web::Data<Addr<Hub>>) -> HttpResponse {
    let (tx, rx) = mpsc::channel(CLIENT_BACKLOG);
    hub.do_send(Join(tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let bytes = rx.recv().await?;
        Some((Ok::<_, actix_web::Error>(bytes), rx))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream)
}

/// What the page asks the server to do.
#[derive(Deserialize)]
struct Request {
    method: String,
    path: String,
    #[serde(default)]
    body: Option<serde_json::Value>,
}

/// `POST /api/request`: the page's controls, passed to the server with the token the page never
/// sees. Only room routes and the emulator's controls, only POST and DELETE, and only from this
/// page (a request another site's page makes carries its own `Origin`).
async fn control(
    req: HttpRequest,
    api: web::Data<RoomApi>,
    asked: web::Json<Request>,
) -> HttpResponse {
    let host = req.connection_info().host().to_owned();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|origin| origin.to_str().ok());
    if let Some(origin) = origin
        && origin != format!("http://{host}")
    {
        return HttpResponse::Forbidden().body(format!(
            "requests come from the dashboard's own page, not from {origin}"
        ));
    }
    let method = match asked.method.as_str() {
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        other => {
            return HttpResponse::BadRequest()
                .body(format!("method {other}: only POST and DELETE"));
        }
    };
    let allowed = (asked.path == "/room"
        || asked.path.starts_with("/room/")
        || asked.path.starts_with("/emulator/"))
        && !asked.path.contains("..")
        && !asked.path.contains('?');
    if !allowed {
        return HttpResponse::BadRequest()
            .body(format!("path {}: only /room… and /emulator/…", asked.path));
    }
    match api.request(method, &asked.path, asked.body.as_ref()).await {
        Ok((status, body)) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::OK),
        )
        .content_type("application/json")
        .body(body),
        Err(jellyfish_notifier::RoomApiError::Status { status, message }) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
        )
        .body(message),
        Err(err) => HttpResponse::BadGateway().body(err.to_string()),
    }
}

//! The emulator's HTTP surface: the server WebSocket, the REST API of each server version, and the
//! `/emulator/…` controls, each a table of `(method, path, handler)` in its own module. Every REST
//! and control route sits behind the bearer-token middleware ([`auth`]); the WebSocket
//! authenticates in-band, and unknown routes answer a JSON 404 without asking for a token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{ServerHandle, ServiceRequest};
use actix_web::{HttpRequest, HttpResponse, HttpServer, web};

use crate::shared::Shared;
use crate::socket;
use crate::tls::TlsIdentity;

/// Routes behind the bearer token, as a table: `authorized!(config, [(GET, "/path", handler), …])`.
macro_rules! authorized {
    ($config:expr, [$(($method:ident, $path:literal, $handler:expr)),* $(,)?]) => {
        $config$(.route(
            $path,
            $crate::http::auth::authorized(actix_web::http::Method::$method, $handler),
        ))*
    };
}

mod auth;
mod cloud;
mod controls;
mod jellyfish;
mod reply;

type Data = web::Data<Shared>;

/// A listening server.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    handle: ServerHandle,
}

impl Running {
    /// Stops listening and drops every connection; returns once it has.
    pub(crate) async fn stop(self) {
        self.handle.stop(false).await;
    }

    /// Asks the server to stop, without waiting (for `Drop`).
    pub(crate) fn stop_now(self) {
        drop(self.handle.stop(false));
    }
}

pub(crate) fn serve(shared: Arc<Shared>, bind: SocketAddr) -> std::io::Result<Running> {
    let workers = shared.config.workers;
    let tls = shared
        .config
        .tls
        .as_ref()
        .map(TlsIdentity::server_config)
        .transpose()?;
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        let cloud = data.config.version.is_cloud();
        actix_web::App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .route("/socket/server/websocket", web::get().to(websocket))
            .configure(jellyfish::routes)
            .configure(|config| {
                if cloud {
                    cloud::routes(config);
                }
            })
            .service(web::scope("/emulator").configure(controls::routes))
            .default_service(web::to(unknown_route))
            // Inner first: the Cloud prefix is stripped after the slashes are merged.
            .wrap_fn(move |req, service| {
                use actix_web::dev::Service as _;
                let req = if cloud { strip_cloud_prefix(req) } else { req };
                service.call(req)
            })
            // Phoenix merges repeated slashes (the JS SDK sends `//room`).
            .wrap(actix_web::middleware::NormalizePath::new(
                actix_web::middleware::TrailingSlash::MergeOnly,
            ))
    })
    .workers(workers)
    // Frames go out as they are written, as the real server's (Cowboy's, Bandit's) sockets do;
    // Nagle's algorithm would hold a small frame for the client's delayed ACK (up to 40 ms).
    .tcp_nodelay(true)
    .disable_signals()
    .shutdown_timeout(0)
    // Close a dropped socket at once instead of lingering for the client (abrupt, like a crash).
    .client_disconnect_timeout(Duration::ZERO);
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(bind, config)?,
        None => server.bind(bind)?,
    };
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("the server bound no address"))?;
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(Running { addr, handle })
}

async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    shared: Data,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(socket::run(shared.into_inner(), session, stream));
    Ok(response)
}

/// Fishjam Cloud serves every route under `/api/v1/connect/{fishjam_id}` too.
fn strip_cloud_prefix(mut req: ServiceRequest) -> ServiceRequest {
    const PREFIX: &str = "/api/v1/connect/";
    let path = req.path();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return req;
    };
    let stripped = match rest.find('/') {
        Some(slash) => rest[slash..].to_owned(),
        None => "/".to_owned(),
    };
    let query = req.query_string();
    let path_and_query = if query.is_empty() {
        stripped
    } else {
        format!("{stripped}?{query}")
    };
    let mut parts = req.head().uri.clone().into_parts();
    let Ok(path_and_query) = path_and_query.parse() else {
        return req;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = actix_web::http::Uri::from_parts(parts) {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
    req
}

/// Every route the server does not have: 404 with a JSON `{"errors": …}` body, which the official
/// SDKs decode (an empty body crashes them).
async fn unknown_route(req: HttpRequest) -> HttpResponse {
    reply::error(404, format!("Not found: {} {}", req.method(), req.path()))
}

//! A real actix-web server on loopback that records every POST it receives.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One received POST.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

pub struct WebhookSink {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

impl WebhookSink {
    /// Starts the sink on `127.0.0.1:0`; its `url` ends in `/webhook`.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        let server = HttpServer::new(move || {
            let sink = Arc::clone(&sink);
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    sink.lock().unwrap().push(Received {
                        path: req.path().to_owned(),
                        content_type: header("content-type").unwrap_or_default(),
                        signature: header("x-fishjam-signature-256"),
                        body: body.to_vec(),
                    });
                    HttpResponse::Ok().finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("bind the webhook sink");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            url: format!("http://{addr}/webhook"),
            received,
            handle,
        }
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

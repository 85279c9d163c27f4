//! A webhook target on a fixed loopback port that a test can script: answer with given statuses
//! for a while, answer slowly, go down and come back on the same port. It records every POST with
//! its `webhook-id`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One POST the target received.
#[derive(Clone, Debug)]
pub struct Post {
    pub id: String,
    pub body: Vec<u8>,
    pub status: u16,
}

#[derive(Default)]
struct Script {
    /// Statuses (and a `Retry-After` in seconds) to answer with before answering 200.
    answers: VecDeque<(u16, Option<u64>)>,
    /// A delay before every answer.
    delay: Duration,
    posts: Vec<Post>,
}

pub struct Target {
    pub port: u16,
    script: Arc<Mutex<Script>>,
    handle: Option<actix_web::dev::ServerHandle>,
}

impl Target {
    /// A target that is not listening yet, on a port that was free.
    pub fn new() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            port,
            script: Arc::default(),
            handle: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook", self.port)
    }

    /// Starts (or restarts) listening on the same port.
    pub fn up(&mut self) {
        let script = Arc::clone(&self.script);
        let server = HttpServer::new(move || {
            let script = Arc::clone(&script);
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let script = Arc::clone(&script);
                async move {
                    let (answer, delay) = {
                        let mut script = script.lock().unwrap();
                        (script.answers.pop_front(), script.delay)
                    };
                    let (status, retry_after) = answer.unwrap_or((200, None));
                    // Stored first, answered after the delay: a target that keeps a body and
                    // answers too late has still received it.
                    script.lock().unwrap().posts.push(Post {
                        id: req
                            .headers()
                            .get("webhook-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned(),
                        body: body.to_vec(),
                        status,
                    });
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let mut response =
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                    if let Some(seconds) = retry_after {
                        response.insert_header(("retry-after", seconds.to_string()));
                    }
                    response.finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind(("127.0.0.1", self.port))
        .expect("the target's port is free");
        let server = server.run();
        self.handle = Some(server.handle());
        actix_web::rt::spawn(server);
    }

    /// Stops listening (connections in flight are dropped).
    pub async fn down(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(false).await;
        }
    }

    /// The next answers, before 200s again.
    pub fn answer(&self, answers: &[(u16, Option<u64>)]) {
        self.script
            .lock()
            .unwrap()
            .answers
            .extend(answers.iter().copied());
    }

    pub fn delay(&self, delay: Duration) {
        self.script.lock().unwrap().delay = delay;
    }

    pub fn posts(&self) -> Vec<Post> {
        self.script.lock().unwrap().posts.clone()
    }
}

//! The demo's embedded customer API: fake customers with names, emails, card numbers and SSNs,
//! plus an API key, on a loopback port, demanding a bearer token that only guard holds. GET lists
//! and reads; POST adds; DELETE removes. It plays the internal service guard stands in front of.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// Fake people: the card numbers are issuers' published test numbers, the SSNs are in valid
/// ranges but belong to nobody (the 078-05-1120 kind of example).
fn customers() -> Vec<Value> {
    vec![
        json!({"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "card": "4111 1111 1111 1111", "ssn": "123-45-6789", "plan": "pro"}),
        json!({"id": 2, "name": "Alan Turing", "email": "alan.turing@example.org", "card": "5555 5555 5555 4444", "ssn": "219-09-9999", "plan": "team"}),
        json!({"id": 3, "name": "Grace Hopper", "email": "grace@navy.example.mil", "card": "3782 822463 10005", "ssn": "078-05-1120", "plan": "free"}),
    ]
}

struct State {
    token: String,
    customers: Mutex<Vec<Value>>,
}

/// Serves the API on a loopback port in a thread of its own and returns its address.
pub fn start(token: String) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let state = Arc::new(State {
        token,
        customers: Mutex::new(customers()),
    });
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    Ok(addr)
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", state.token));
    if !authorized {
        return Ok(reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong bearer token"}),
        ));
    }
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let id = path
        .strip_prefix("/customers/")
        .and_then(|id| id.parse::<u64>().ok());
    let reply = match (&method, path.as_str(), id) {
        (&Method::GET, "" | "/", _) => reply(
            StatusCode::OK,
            json!({"service": "demo customers", "endpoints": ["/customers", "/customers/{id}", "/config"]}),
        ),
        (&Method::GET, "/customers", _) => reply(StatusCode::OK, json!(*lock(&state))),
        (&Method::GET, "/config", _) => reply(
            StatusCode::OK,
            json!({"payments_api_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "region": "eu-west-1"}),
        ),
        (&Method::GET, _, Some(id)) => match lock(&state).iter().find(|c| c["id"] == id) {
            Some(c) => reply(StatusCode::OK, c.clone()),
            None => reply(StatusCode::NOT_FOUND, json!({"error": "no such customer"})),
        },
        (&Method::DELETE, _, Some(id)) => {
            let mut all = lock(&state);
            let before = all.len();
            all.retain(|c| c["id"] != id);
            reply(StatusCode::OK, json!({"deleted": before - all.len()}))
        }
        (&Method::POST, "/customers", _) => add(&state, req).await,
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "no such endpoint"})),
    };
    Ok(reply)
}

async fn add(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "unreadable body"})),
    };
    let Ok(mut customer) = serde_json::from_slice::<Value>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "send a JSON object"}),
        );
    };
    let mut all = lock(state);
    let next = all
        .iter()
        .filter_map(|c| c["id"].as_u64())
        .max()
        .unwrap_or(0)
        + 1;
    customer["id"] = json!(next);
    all.push(customer.clone());
    reply(StatusCode::CREATED, customer)
}

fn lock(state: &State) -> std::sync::MutexGuard<'_, Vec<Value>> {
    state.customers.lock().unwrap_or_else(|e| e.into_inner())
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

//! Server-side SCRAM-SHA-256 (RFC 5802, RFC 7677): how guard checks that a client holds the
//! session secret without the secret ever crossing the wire.
//!
//! guard offers `SCRAM-SHA-256` only. Over plaintext loopback there is no TLS channel to bind to,
//! so `SCRAM-SHA-256-PLUS` is not offered and a client that insists on channel binding (`p=`) is
//! refused, as the server does when it has no TLS. The verifier (salt, StoredKey, ServerKey) is
//! computed once per session, as the server stores one per role.

use crate::secret::constant_time_eq;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub const MECHANISM: &str = "SCRAM-SHA-256";
pub const ITERATIONS: u32 = 4096;

type HmacSha256 = Hmac<Sha256>;

/// HMAC takes keys of any length (RFC 2104 §2), so keying it cannot fail.
const HMAC_KEY: &str = "HMAC accepts keys of any length";

/// What the server keeps of a password: enough to check a proof, not enough to make one.
#[derive(Clone)]
pub struct Verifier {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

/// Why a client's SCRAM messages were refused. Only `WrongProof` means a wrong password.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding is not supported on this connection")]
    ChannelBinding,
    #[error("the client's proof does not match")]
    WrongProof,
}

impl Verifier {
    pub fn new(password: &[u8], salt: &[u8], iterations: u32) -> Verifier {
        let salted = hi(password, salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        Verifier {
            salt: salt.to_vec(),
            iterations,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }
}

/// One client's exchange, between `client-first` and `server-final`.
pub struct ServerExchange {
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ServerExchange {
    /// Reads `client-first-message` and returns the exchange and `server-first-message`.
    pub fn start(
        verifier: &Verifier,
        client_first: &[u8],
        server_nonce: &str,
    ) -> Result<(ServerExchange, String), ScramError> {
        let msg = std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed("utf-8"))?;
        let (gs2_header, bare) = split_gs2(msg)?;
        let mut attrs = bare.split(',');
        // RFC 5802 §5.1: the first attribute is n= (PostgreSQL ignores its value and uses the
        // startup user), then r=; an m= extension we do not know must make us fail.
        let user = attrs.next().ok_or(ScramError::Malformed("no user"))?;
        if !user.starts_with("n=") {
            return Err(ScramError::Malformed("no user attribute"));
        }
        let client_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b','))
            .ok_or(ScramError::Malformed("no client nonce"))?;
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&verifier.salt),
            verifier.iterations
        );
        let exchange = ServerExchange {
            gs2_header: gs2_header.to_string(),
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok((exchange, server_first))
    }

    /// Checks `client-final-message` and returns `server-final-message` (`v=<signature>`).
    pub fn finish(self, verifier: &Verifier, client_final: &[u8]) -> Result<String, ScramError> {
        let msg = std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("utf-8"))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("no proof"))?;
        let mut attrs = without_proof.split(',');
        let binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or(ScramError::Malformed("no channel binding attribute"))?;
        // c= must repeat the gs2 header exactly (RFC 5802 §5.1), or the client is being fooled.
        if B64.decode(binding).ok().as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err(ScramError::Malformed("channel binding attribute differs"));
        }
        let nonce = attrs.next().and_then(|a| a.strip_prefix("r="));
        if nonce != Some(self.nonce.as_str()) {
            return Err(ScramError::Malformed("nonce differs"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not base64"))?;
        if proof.len() != 32 {
            return Err(ScramError::Malformed("proof has the wrong length"));
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_signature = hmac(&verifier.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; 32];
        for (i, k) in client_key.iter_mut().enumerate() {
            *k = proof[i] ^ client_signature[i];
        }
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        if !constant_time_eq(&stored, &verifier.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac(&verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

/// Splits `gs2-header` (`n,,` or `y,,`, optionally with `a=authzid`) from `client-first-bare`.
fn split_gs2(msg: &str) -> Result<(&str, &str), ScramError> {
    let flag_end = msg
        .find(',')
        .ok_or(ScramError::Malformed("no gs2 header"))?;
    let authz_end = msg[flag_end + 1..]
        .find(',')
        .map(|i| flag_end + 1 + i)
        .ok_or(ScramError::Malformed("no gs2 header"))?;
    match &msg[..flag_end] {
        // `y`: the client could bind but believes we cannot, which is true here.
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed("bad gs2 flag")),
    }
    Ok((&msg[..=authz_end], &msg[authz_end + 1..]))
}

/// `Hi()` of RFC 5802 §2.2: PBKDF2 with HMAC-SHA-256 and one output block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let keyed = HmacSha256::new_from_slice(password).expect(HMAC_KEY);
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut mac = keyed.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (o, b) in out.iter_mut().zip(u.iter()) {
            *o ^= b;
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect(HMAC_KEY);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 §3: user "user", password "pencil".
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_verifier(password: &str) -> Verifier {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        Verifier::new(password.as_bytes(), &salt, 4096)
    }

    #[test]
    fn rfc7677_test_vector() {
        let v = rfc_verifier("pencil");
        let (exchange, server_first) =
            ServerExchange::start(&v, CLIENT_FIRST.as_bytes(), SERVER_NONCE).unwrap();
        assert_eq!(server_first, SERVER_FIRST);
        let server_final = exchange.finish(&v, CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(server_final, SERVER_FINAL);
    }

    #[test]
    fn a_wrong_password_is_refused() {
        let v = rfc_verifier("pencil2");
        let (exchange, _) =
            ServerExchange::start(&v, CLIENT_FIRST.as_bytes(), SERVER_NONCE).unwrap();
        assert_eq!(
            exchange.finish(&v, CLIENT_FINAL.as_bytes()),
            Err(ScramError::WrongProof)
        );
    }

    #[test]
    fn tampered_messages_are_refused() {
        let v = rfc_verifier("pencil");
        let start = || ServerExchange::start(&v, CLIENT_FIRST.as_bytes(), SERVER_NONCE).unwrap();
        let other_nonce = CLIENT_FINAL.replace("k0,p", "k1,p");
        assert!(start().0.finish(&v, other_nonce.as_bytes()).is_err());
        let other_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        assert!(start().0.finish(&v, other_binding.as_bytes()).is_err());
        assert!(start().0.finish(&v, b"c=biws,r=x").is_err());
        assert_eq!(
            ServerExchange::start(&v, b"p=tls-server-end-point,,n=,r=abc", "x").err(),
            Some(ScramError::ChannelBinding)
        );
        assert!(ServerExchange::start(&v, b"n,,r=abc", "x").is_err());
        assert!(ServerExchange::start(&v, b"", "x").is_err());
        assert!(ServerExchange::start(&v, b"\xff,,", "x").is_err());
    }

    /// The client half guard uses upstream (`postgres-protocol`) and this server agree.
    #[test]
    fn the_upstream_client_authenticates_against_this_server() {
        use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
        let v = Verifier::new(b"s3cret", b"0123456789abcdef", 4096);
        let mut client = ScramSha256::new(b"s3cret", ChannelBinding::unsupported());
        let (exchange, server_first) =
            ServerExchange::start(&v, client.message(), "servernonce").unwrap();
        client.update(server_first.as_bytes()).unwrap();
        let server_final = exchange.finish(&v, client.message()).unwrap();
        client.finish(server_final.as_bytes()).unwrap();
    }
}

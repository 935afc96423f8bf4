//! TLS to the upstream server, per the target's `tls` mode, with libpq's meanings
//! (libpq docs, "SSL Support", table "SSL Mode Descriptions"):
//!
//! - `disable`: no TLS;
//! - `prefer`: TLS when the server accepts it, without checking its certificate;
//! - `require`: TLS or nothing, without checking the certificate (libpq's `require` with no root
//!   file); SCRAM channel binding still ties the login to the certificate actually seen;
//! - `verify-full`: TLS, the chain checked against the system's roots and the name against the
//!   upstream host.
//!
//! rustls with the `ring` provider; the certificate hash for `tls-server-end-point` channel
//! binding (RFC 5929 §4.1) is computed here too.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use sha2::Digest;

use crate::config::TlsMode;

/// Builds the client configuration for a mode; `None` for `disable`.
pub fn client_config(mode: TlsMode) -> Result<Option<Arc<ClientConfig>>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let config = match mode {
        TlsMode::Disable => return Ok(None),
        TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth(),
        TlsMode::VerifyFull => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
    };
    Ok(Some(Arc::new(config)))
}

/// The system's trusted roots (what `sslrootcert=system` means to libpq).
fn system_roots() -> Result<rustls::RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("no trusted root certificates found on this system".into());
    }
    Ok(roots)
}

/// `prefer` and `require`: any certificate, but the handshake signatures are still checked, so
/// the peer holds the key of the certificate that channel binding hashes.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The `tls-server-end-point` channel binding data (RFC 5929 §4.1): the certificate hashed with
/// its signature's hash, where MD5 and SHA-1 become SHA-256. `None` when the signature algorithm
/// names no hash (Ed25519, RSASSA-PSS), as the server then offers no channel binding either.
pub fn end_point_hash(cert: &[u8]) -> Option<Vec<u8>> {
    match signature_hash(cert)? {
        Hash::Sha256 => Some(sha2::Sha256::digest(cert).to_vec()),
        Hash::Sha384 => Some(sha2::Sha384::digest(cert).to_vec()),
        Hash::Sha512 => Some(sha2::Sha512::digest(cert).to_vec()),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// Reads `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }` far enough
/// to find the signature algorithm's OID (X.509, RFC 5280 §4.1).
fn signature_hash(cert: &[u8]) -> Option<Hash> {
    let (tag, body, _) = der(cert)?;
    (tag == 0x30).then_some(())?;
    let (_, _, after_tbs) = der(body)?;
    let (tag, algorithm, _) = der(after_tbs)?;
    (tag == 0x30).then_some(())?;
    let (tag, oid, _) = der(algorithm)?;
    (tag == 0x06).then_some(())?;
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    match oid {
        o if o == ECDSA_SHA1 => Some(Hash::Sha256),
        [prefix @ .., last] if prefix == RSA => match last {
            4 | 5 | 11 => Some(Hash::Sha256),
            12 => Some(Hash::Sha384),
            13 => Some(Hash::Sha512),
            _ => None,
        },
        [prefix @ .., last] if prefix == ECDSA_SHA2 => match last {
            2 => Some(Hash::Sha256),
            3 => Some(Hash::Sha384),
            4 => Some(Hash::Sha512),
            _ => None,
        },
        _ => None,
    }
}

/// One DER element: (tag, contents, what follows).
fn der(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with_oid(oid: &[u8]) -> Vec<u8> {
        let tbs = [0x30, 0x03, 0x02, 0x01, 0x01];
        let mut alg = vec![0x30, (oid.len() + 2) as u8, 0x06, oid.len() as u8];
        alg.extend_from_slice(oid);
        let sig = [0x03, 0x02, 0x00, 0xff];
        let mut body = tbs.to_vec();
        body.extend(alg);
        body.extend(sig);
        let mut cert = vec![0x30, body.len() as u8];
        cert.extend(body);
        cert
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        let rsa256 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        let rsa_sha1 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
        let ecdsa384 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        let ed25519 = [0x2b, 0x65, 0x70];
        assert_eq!(signature_hash(&cert_with_oid(&rsa256)), Some(Hash::Sha256));
        assert_eq!(
            signature_hash(&cert_with_oid(&rsa_sha1)),
            Some(Hash::Sha256)
        );
        assert_eq!(
            signature_hash(&cert_with_oid(&ecdsa384)),
            Some(Hash::Sha384)
        );
        assert_eq!(signature_hash(&cert_with_oid(&ed25519)), None);
        let cert = cert_with_oid(&ecdsa384);
        assert_eq!(end_point_hash(&cert).unwrap().len(), 48);
    }

    #[test]
    fn truncated_certificates_give_no_hash() {
        let cert = cert_with_oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        for cut in 0..cert.len() {
            assert_eq!(signature_hash(&cert[..cut]), None, "cut at {cut}");
        }
        assert_eq!(der(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn every_mode_builds() {
        assert!(client_config(TlsMode::Disable).unwrap().is_none());
        assert!(client_config(TlsMode::Prefer).unwrap().is_some());
        assert!(client_config(TlsMode::Require).unwrap().is_some());
    }
}

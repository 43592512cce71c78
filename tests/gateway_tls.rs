//! TLS termination against the real Kafka: HTTP/1.1 and HTTP/2 (ALPN) over
//! TLS, client certificates (mTLS) required when configured, and a renewed
//! certificate picked up without a restart.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tributary_gateway::config::TlsConfig;
use tributary_tests::*;

struct Pki {
    ca_pem: String,
    ca: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_pem: cert.pem(),
            ca: Issuer::new(params, key),
        }
    }

    /// A leaf certificate and key, as PEM.
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn der(pem: &str) -> CertificateDer<'static> {
    certs(pem).remove(0)
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

fn client_config(ca_pem: &str, client: Option<(&str, &str)>, alpn: &[u8]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(ca_pem)).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut cfg = match client {
        Some((cert, key)) => {
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(certs(cert), key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![alpn.to_vec()];
    cfg
}

/// One TLS connection; returns the negotiated ALPN, the server's leaf
/// certificate and the status of a POST /v1/batch (or the handshake error).
async fn post(
    addr: std::net::SocketAddr,
    cfg: rustls::ClientConfig,
) -> Result<(Vec<u8>, Vec<u8>, u16), String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (_, session) = tls.get_ref();
    let alpn = session.alpn_protocol().unwrap_or_default().to_vec();
    let leaf = session.peer_certificates().unwrap()[0].to_vec();
    let body = serde_json::to_vec(&serde_json::json!({"batch": [{"type":"track","event":"Order Completed","messageId":"tls","anonymousId":"a"}]})).unwrap();
    let req = http::Request::post("/v1/batch")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {KEY_BROKER}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let io = TokioIo::new(tls);
    let status = if alpn == b"h2" {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let r = send.send_request(req).await.map_err(|e| e.to_string())?;
        let s = r.status().as_u16();
        let _ = r.into_body().collect().await;
        s
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let r = send.send_request(req).await.map_err(|e| e.to_string())?;
        let s = r.status().as_u16();
        let _ = r.into_body().collect().await;
        s
    };
    Ok((alpn, leaf, status))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_both_protocols_requires_client_certs_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let (cert, key) = pki.leaf(&["localhost", "127.0.0.1"]);
    let cert_file = write(dir.path(), "cert.pem", &cert);
    let key_file = write(dir.path(), "key.pem", &key);
    let ca_file = write(dir.path(), "ca.pem", &pki.ca_pem);
    let mut cfg = test_config(&kafka(), &unique_prefix("tls"));
    cfg.tls = Some(TlsConfig {
        cert_file: cert_file.clone(),
        key_file: key_file.clone(),
        client_ca_file: Some(ca_file),
        reload_poll_secs: 1,
    });
    let gw = start_gateway(cfg).await;
    let addr = gw.local_addr();
    let (client_cert, client_key) = pki.leaf(&["sender.example"]);
    let client = Some((client_cert.as_str(), client_key.as_str()));

    let (alpn, leaf, status) = post(addr, client_config(&pki.ca_pem, client, b"h2"))
        .await
        .unwrap();
    assert_eq!((alpn.as_slice(), status), (&b"h2"[..], 200));
    assert_eq!(leaf, der(&cert).to_vec());
    let (alpn, _, status) = post(addr, client_config(&pki.ca_pem, client, b"http/1.1"))
        .await
        .unwrap();
    assert_eq!((alpn.as_slice(), status), (&b"http/1.1"[..], 200));

    // mTLS: no client certificate, no service.
    assert!(
        post(addr, client_config(&pki.ca_pem, None, b"http/1.1"))
            .await
            .is_err()
    );

    // A renewed certificate is served to new connections without a restart.
    let (renewed, renewed_key) = pki.leaf(&["localhost", "127.0.0.1"]);
    std::fs::write(&key_file, &renewed_key).unwrap();
    std::fs::write(&cert_file, &renewed).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, leaf, status) = post(addr, client_config(&pki.ca_pem, client, b"h2"))
            .await
            .unwrap();
        assert_eq!(status, 200);
        if leaf == der(&renewed).to_vec() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    gw.shutdown().await.unwrap();
}

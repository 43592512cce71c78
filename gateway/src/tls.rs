//! TLS termination with rustls: TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by
//! ALPN, certificate and key from PEM files reloaded when they change (no
//! restart for a renewal), and optional client-certificate authentication
//! (mTLS) for server-to-server senders.
//!
//! The certificate lives behind a resolver that each handshake asks, so a
//! reload swaps it for new connections while open ones keep theirs.

use crate::config::TlsConfig;
use rustls::ServerConfig;
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use tokio_rustls::TlsAcceptor;

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice()).collect::<Result<_, _>>()?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{} holds no PEM certificate",
        path.display()
    );
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())?
        .ok_or_else(|| anyhow::anyhow!("{} holds no PEM private key", path.display()))
}

fn load_certified_key(cfg: &TlsConfig) -> anyhow::Result<CertifiedKey> {
    let certs = read_certs(&cfg.cert_file)?;
    let key = any_supported_type(&read_key(&cfg.key_file)?).map_err(|e| {
        anyhow::anyhow!("unsupported private key in {}: {e}", cfg.key_file.display())
    })?;
    Ok(CertifiedKey::new(certs, key))
}

/// The certificate in force, swappable.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// TLS for the listener.
pub struct Tls {
    cfg: TlsConfig,
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
    loaded_at: RwLock<Option<SystemTime>>,
}

fn mtimes(cfg: &TlsConfig) -> Option<SystemTime> {
    crate::reload::mtime(&cfg.cert_file).max(crate::reload::mtime(&cfg.key_file))
}

impl Tls {
    /// Loads the certificate, key and (for mTLS) client CA.
    pub fn new(cfg: &TlsConfig) -> anyhow::Result<Tls> {
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(load_certified_key(cfg)?)),
        });
        // The provider is named explicitly everywhere: other crates in a
        // build may enable a second rustls provider, and then rustls cannot
        // pick a process default on its own.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
        let builder = match &cfg.client_ca_file {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in read_certs(ca)? {
                    roots.add(c)?;
                }
                builder.with_client_cert_verifier(
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()?,
                )
            }
            None => builder.with_no_client_auth(),
        };
        let mut server = builder.with_cert_resolver(resolver.clone());
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            resolver,
            loaded_at: RwLock::new(mtimes(cfg)),
            cfg: cfg.clone(),
        })
    }

    /// The acceptor for new connections.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Reloads the certificate and key if their files changed. A pair that
    /// fails to load is reported and the one in force kept.
    pub fn reload_if_changed(&self) {
        let now = mtimes(&self.cfg);
        if self.loaded_at.read().map(|l| *l == now).unwrap_or(true) {
            return;
        }
        match load_certified_key(&self.cfg) {
            Ok(k) => {
                if let Ok(mut c) = self.resolver.current.write() {
                    *c = Arc::new(k);
                }
                if let Ok(mut l) = self.loaded_at.write() {
                    *l = now;
                }
                tracing::info!(cert = %self.cfg.cert_file.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                tracing::error!("TLS certificate not reloaded, keeping the current one: {e:#}")
            }
        }
    }

    /// Starts the task that reloads the certificate when its files change
    /// (every `poll`); it ends when the TLS state is dropped.
    pub fn spawn_reloader(self: &std::sync::Arc<Self>) {
        let tls = std::sync::Arc::downgrade(self);
        let poll = self.poll();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            loop {
                tick.tick().await;
                let Some(t) = tls.upgrade() else { break };
                t.reload_if_changed();
            }
        });
    }

    /// How often to check the files.
    pub fn poll(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.cfg.reload_poll_secs.max(1))
    }
}

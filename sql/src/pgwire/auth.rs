//! Who may connect: insecure mode (any user, no password, no TLS) or secure mode (TLS from
//! the node's certificates, then a client certificate or a SCRAM-SHA-256 password).
//!
//! ```text
//!   insecure   Startup ──────────────────────────────────────────────► session
//!   secure     SSLRequest → TLS handshake (node.crt; a client certificate is optional)
//!              Startup ── not TLS ──────────────────────────────────► FATAL 28000
//!                      ── client certificate whose CN is the user ──► session
//!                      ── else AuthenticationSASL(SCRAM-SHA-256)
//!                         SASLInitialResponse → SASLContinue
//!                         SASLResponse ── proof checks against the role's verifier ──► session
//!                                      ── wrong password, unknown role, no password ─► FATAL 28P01
//! ```
//!
//! The certificates are the ones `tessera cert` writes into a certs directory: `ca.crt`
//! (clients' certificates must chain to it), `node.crt` and `node.key`. Role verifiers live
//! in the system keyspace (`crate::roles`).
//!
//! HAZARD: in secure mode every session must pass [`Security::authenticate`]'s checks before
//! it opens; a path that opens a session without them lets anyone in as anyone.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory};
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret};
use pgwire::api::auth::sasl::SaslMechanisms;
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::session::SqlNode;
use crate::txn::SqlTxn;

/// How the server admits connections.
#[derive(Clone)]
pub enum Security {
    /// Any user, no password; TLS is refused (`N` to SSLRequest).
    Insecure,
    /// TLS required; a client certificate or a password proves the user.
    Secure(TlsAcceptor),
}

/// The files a secure node reads from its certs directory.
pub const CA_CERT: &str = "ca.crt";
/// The node's certificate (signed by the CA).
pub const NODE_CERT: &str = "node.crt";
/// The node's private key.
pub const NODE_KEY: &str = "node.key";

impl Security {
    /// Secure mode from the certificates in `dir` (an error names the file that is missing
    /// or bad).
    pub fn from_certs_dir(dir: &Path) -> Result<Security, String> {
        let read_certs = |name: &str| -> Result<Vec<CertificateDer<'static>>, String> {
            let path = dir.join(name);
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no certificate", path.display()));
            }
            Ok(certs)
        };
        let ca = read_certs(CA_CERT)?;
        let chain = read_certs(NODE_CERT)?;
        let key_path = dir.join(NODE_KEY);
        let key = PrivateKeyDer::from_pem_file(&key_path)
            .map_err(|e| format!("{}: {e}", key_path.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in ca {
            roots.add(c).map_err(|e| format!("{CA_CERT}: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("client certificate verifier: {e}"))?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| format!("{NODE_CERT}/{NODE_KEY}: {e}"))?;
        Ok(Security::Secure(TlsAcceptor::from(Arc::new(config))))
    }

    /// The TLS acceptor to hand pgwire (`None`: TLS refused).
    pub fn tls(&self) -> Option<TlsAcceptor> {
        match self {
            Security::Insecure => None,
            Security::Secure(acceptor) => Some(acceptor.clone()),
        }
    }
}

/// What a Startup message leads to.
pub enum Admission {
    /// Open the session now.
    Open,
    /// Run this password mechanism first.
    Password(Box<dyn AuthMechanism>),
}

impl Security {
    /// Decides how the user of a Startup message is authenticated (see the module docs).
    pub fn authenticate(
        &self,
        node: &Arc<SqlNode>,
        client: &(dyn ClientInfo + Send + Sync),
        user: &str,
    ) -> PgWireResult<Admission> {
        match self {
            Security::Insecure => Ok(Admission::Open),
            Security::Secure(_) => {
                if !client.is_secure() {
                    return Err(fatal(
                        "28000",
                        "connection requires TLS: this node runs in secure mode (sslmode=require)",
                    ));
                }
                if certificate_user(client).as_deref() == Some(user) {
                    return Ok(Admission::Open);
                }
                let scram = ScramAuth::new(Arc::new(RoleVerifiers {
                    node: Arc::clone(node),
                }));
                Ok(Admission::Password(
                    SaslMechanisms::new(vec![Arc::new(scram)]).create(),
                ))
            }
        }
    }
}

/// A FATAL error with a SQLSTATE, ending the connection.
pub fn fatal(code: &str, message: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        code.to_owned(),
        message.to_owned(),
    )))
}

/// The common name of the client certificate the TLS handshake verified, if any.
fn certificate_user(client: &(dyn ClientInfo + Send + Sync)) -> Option<String> {
    let der = client.client_certificates()?.first()?;
    let cert = x509_certificate::X509Certificate::from_der(der.as_ref()).ok()?;
    cert.subject_common_name()
}

/// SCRAM secrets from the roles' stored verifiers.
struct RoleVerifiers {
    node: Arc<SqlNode>,
}

impl std::fmt::Debug for RoleVerifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoleVerifiers")
    }
}

#[async_trait]
impl AuthSource for RoleVerifiers {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Only verifiers are stored; get_scram_secret below is what SCRAM asks for.
        Err(PgWireError::InvalidPassword(
            login.user().unwrap_or_default().to_owned(),
        ))
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let user = login.user().unwrap_or_default().to_owned();
        let mut txn = SqlTxn::new(self.node.db.begin("authenticate"));
        let found = crate::roles::verifier(&mut txn, &user).await;
        txn.commit().await.ok();
        // An unknown role and a role without a password fail as a wrong password does, so a
        // client learns nothing about which roles exist.
        match found {
            Ok(Some(Some(text))) => crate::roles::parse_verifier(&text)
                .map(|secret| (secret, None))
                .ok_or(PgWireError::InvalidPassword(user)),
            _ => Err(PgWireError::InvalidPassword(user)),
        }
    }
}

//! `tessera cert`: the certificates of a secure node and its clients.
//!
//! ```text
//!   tessera cert create-ca     --certs-dir D --ca-key K     D/ca.crt, K (the CA's key)
//!   tessera cert create-node   --certs-dir D --ca-key K HOST…  D/node.crt, D/node.key
//!                                                          (HOSTs: DNS names or IPs)
//!   tessera cert create-client --certs-dir D --ca-key K USER  D/client.USER.crt, .key
//! ```
//!
//! A node started with `--certs-dir D` serves TLS with `node.crt` and accepts client
//! certificates that chain to `ca.crt`; a client certificate's common name is the user it
//! logs in as (`tessera_sql::pgwire::auth`). Keys are ECDSA P-256, written with mode 0600.
//! The CA's key is kept apart from the certs directory (`--ca-key`), as it signs everything.
//!
//! The CA is re-created for signing from its key and its fixed subject, so signing needs
//! only the key file; a certificate signed that way chains to the `ca.crt` written by
//! `create-ca` because the issuer name and key are the same.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// The CA's subject common name.
const CA_NAME: &str = "tessera CA";

/// `tessera cert …`.
// The variant names are the subcommands' names (`create-ca`, as CockroachDB spells them).
#[allow(clippy::enum_variant_names)]
#[derive(Subcommand)]
pub enum CertCommand {
    /// Creates the certificate authority: `ca.crt` in the certs directory and its key.
    CreateCa {
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Creates the node certificate for the given host names and IP addresses.
    CreateNode {
        #[command(flatten)]
        dirs: Dirs,
        /// DNS names and IP addresses clients reach the node by (verify-full checks them).
        #[arg(required = true)]
        hosts: Vec<String>,
    },
    /// Creates a client certificate whose common name is the user.
    CreateClient {
        #[command(flatten)]
        dirs: Dirs,
        /// The user the certificate logs in as.
        user: String,
    },
}

/// Where certificates and the CA key live.
#[derive(clap::Args)]
pub struct Dirs {
    /// The certs directory (created if missing).
    #[arg(long)]
    certs_dir: PathBuf,
    /// The CA's private key file.
    #[arg(long)]
    ca_key: PathBuf,
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "tessera");
    dn.push(DnType::CommonName, CA_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// Writes a file readable by its owner only (keys) or by all (certificates).
fn write(path: &Path, contents: &str, private: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn load_ca_key(path: &Path) -> anyhow::Result<KeyPair> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the CA key {}", path.display()))?;
    KeyPair::from_pem(&pem).with_context(|| format!("parsing the CA key {}", path.display()))
}

/// Signs a leaf certificate for `cn` (and `hosts` as subject alternative names) and
/// writes `<name>.crt` and `<name>.key` into the certs directory.
fn create_leaf(
    dirs: &Dirs,
    name: &str,
    cn: &str,
    hosts: &[String],
    usage: ExtendedKeyUsagePurpose,
) -> anyhow::Result<()> {
    let ca_key = load_ca_key(&dirs.ca_key)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut p = CertificateParams::new(hosts.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "tessera");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![usage];
    p.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &issuer)?;
    std::fs::create_dir_all(&dirs.certs_dir)?;
    write(
        &dirs.certs_dir.join(format!("{name}.crt")),
        &cert.pem(),
        false,
    )?;
    write(
        &dirs.certs_dir.join(format!("{name}.key")),
        &key.serialize_pem(),
        true,
    )?;
    println!(
        "wrote {}/{name}.crt and {name}.key",
        dirs.certs_dir.display()
    );
    Ok(())
}

/// Runs a `tessera cert` command.
pub fn run(cmd: CertCommand) -> anyhow::Result<()> {
    match cmd {
        CertCommand::CreateCa { dirs } => {
            if dirs.ca_key.exists() {
                bail!(
                    "the CA key {} exists already; remove it to make a new CA",
                    dirs.ca_key.display()
                );
            }
            let key = KeyPair::generate()?;
            let cert = ca_params()?.self_signed(&key)?;
            std::fs::create_dir_all(&dirs.certs_dir)?;
            if let Some(parent) = dirs.ca_key.parent() {
                std::fs::create_dir_all(parent)?;
            }
            write(&dirs.ca_key, &key.serialize_pem(), true)?;
            write(&dirs.certs_dir.join("ca.crt"), &cert.pem(), false)?;
            println!(
                "wrote {}/ca.crt and the CA key {}",
                dirs.certs_dir.display(),
                dirs.ca_key.display()
            );
            Ok(())
        }
        CertCommand::CreateNode { dirs, hosts } => create_leaf(
            &dirs,
            "node",
            "node",
            &hosts,
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        CertCommand::CreateClient { dirs, user } => create_leaf(
            &dirs,
            &format!("client.{user}"),
            &user,
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
    }
}

//! One TLS crypto provider for the whole process: aws-lc-rs.
//!
//! rustls needs a process-level [`rustls::crypto::CryptoProvider`]. When a build holds two
//! (ring through one dependency, aws-lc-rs through another), rustls cannot choose, and the
//! first client built from the process default panics ("Could not automatically determine the
//! process-level CryptoProvider"); kube's client is one such. Goose's reqwest 0.13 brings
//! rustls with aws-lc-rs, and so does the live engine's own TLS, so the workspace builds
//! aws-lc-rs only (`cargo tree -i ring` prints nothing) and installs it as the default before
//! any client is built.

/// Installs aws-lc-rs as the process's default rustls crypto provider. Idempotent: returns
/// true when this call installed it, false when a default was already installed (by an
/// earlier call or by another library), which is left as it is.
pub fn install_crypto_provider() -> bool {
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::crypto::CryptoProvider;

    use super::*;

    #[test]
    fn a_client_config_builds_from_the_process_default_after_installing() {
        install_crypto_provider();
        // A second call changes nothing and does not panic.
        assert!(!install_crypto_provider());
        let Some(provider) = CryptoProvider::get_default() else {
            panic!("no process-level crypto provider after install_crypto_provider()");
        };
        // The default is aws-lc-rs: the same cipher suites as its default provider.
        let suites = |p: &CryptoProvider| -> Vec<String> {
            p.cipher_suites
                .iter()
                .map(|s| format!("{:?}", s.suite()))
                .collect()
        };
        assert_eq!(
            suites(provider),
            suites(&rustls::crypto::aws_lc_rs::default_provider())
        );
        // Both ways of building a client from the process default work.
        let roots = rustls::RootCertStore::empty();
        let explicit = rustls::ClientConfig::builder_with_provider(Arc::clone(provider))
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.with_root_certificates(roots.clone())
                    .with_no_client_auth()
            });
        assert!(explicit.is_ok(), "{explicit:?}");
        let implicit = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        assert!(Arc::ptr_eq(implicit.crypto_provider(), provider));
    }
}

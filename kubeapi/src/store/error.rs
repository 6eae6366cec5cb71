//! What can go wrong in the store.

use crate::kind::Kind;

/// A failed store operation; the server turns each into a Kubernetes `Status`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StoreError {
    /// No such object.
    #[error("{kind} \"{name}\" not found")]
    NotFound {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
    },
    /// Create of an object that exists.
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
    },
    /// A write whose `metadata.resourceVersion` precondition is not the stored one.
    #[error(
        "Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
    },
    /// The object would not be a valid object of its kind.
    #[error("{kind} \"{name}\" is invalid: {why}")]
    Invalid {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A k8s-openapi type of a kind this store does not serve.
    #[error("kind {0} is not served")]
    NotServed(&'static str),
    /// A watch asked to resume from a resourceVersion the log no longer holds.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired {
        /// The resourceVersion asked for.
        requested: u64,
        /// The oldest resourceVersion a watch can resume from.
        oldest: u64,
    },
}

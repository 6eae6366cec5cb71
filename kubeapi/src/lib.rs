//! The part of the Kubernetes API scalebench uses, served on 127.0.0.1 with a real API
//! server's semantics, so that real clients (kubectl 1.32, kube-rs) work against it.
//!
//! No Kubernetes API server can be installed where scalebench is developed; the testbed
//! mirrors its service model into this crate's [`Store`] so that the cluster driver's
//! watchers and faults run through the real API machinery.
//!
//! # Pieces
//!
//! - [`Store`], a sans-IO core: objects by kind, namespace and name; one resourceVersion
//!   counter that every write bumps and stamps (with `uid` and `creationTimestamp` on
//!   create, `generation` bumped on a spec change); a bounded event log that watches resume
//!   from ([`Store::compact`] forgets it, as etcd compaction does); lists with label and field
//!   selectors; server-side apply; the PodDisruptionBudget check of an eviction; the Scale of a
//!   deployment. The owner's typed face is [`Store::upsert`], [`Store::get_as`],
//!   [`Store::remove`].
//! - [`Handle`], the store shared by the server and its owner. Changes the owner carries out
//!   arrive as [`Request`]s ([`Request::Scale`], [`Request::Evict`]) once it calls
//!   [`Handle::take_owner`]; writes clients make directly (cordon, uncordon, taints,
//!   server-side apply, create, replace, delete) are applied to the store and reported as
//!   [`Change`]s. Without an owner a scale sets the deployment's `spec.replicas` and an
//!   eviction deletes the pod.
//! - [`Server`], the HTTP/1.1 server (hyper 1) on `127.0.0.1:0`.
//!
//! # What is served
//!
//! - `GET /version` (1.32, so gcloud's kubectl dispatcher runs kubectl 1.32) and legacy
//!   discovery: `/api`, `/apis`, `/api/v1`, `/apis/apps/v1`, `/apis/autoscaling/v2`,
//!   `/apis/policy/v1` (and `/apis/GROUP`).
//! - Pods, nodes, deployments, daemonsets, HPAs (autoscaling/v2) and PodDisruptionBudgets:
//!   list (with `labelSelector`: `=`, `==`, `!=`, `in`, `notin`, exists, `!`; and
//!   `fieldSelector`: `=`, `!=` on any field path such as `spec.nodeName`), watch, create,
//!   get, replace (with the `resourceVersion` precondition), merge and strategic-merge patch
//!   (both as RFC 7386 JSON merge: maps merge, lists replace, `null` deletes), server-side apply
//!   (`application/apply-patch+yaml`, JSON or YAML), delete; `status` subresources.
//! - Tables (`meta.k8s.io/v1`) for pods and nodes when the Accept header asks, with kubectl's
//!   columns (a cordoned node shows `Ready,SchedulingDisabled`).
//! - Watches: chunked JSON lines, `resourceVersion`, `timeoutSeconds`, `allowWatchBookmarks`
//!   (a bookmark with `apiVersion` and `kind` every [`Config::bookmark_interval`]),
//!   `sendInitialEvents`; a resourceVersion older than the event log gets a 200 stream with one
//!   ERROR event carrying a 410 `Expired` Status, which makes kube-runtime's watcher relist.
//! - `deployments/NAME/scale` (GET, merge PATCH, PUT of an `autoscaling/v1` Scale with its
//!   resourceVersion precondition) and `pods/NAME/eviction` (`policy/v1` Eviction; kube-rs's
//!   body without `apiVersion` is accepted; 429 `TooManyRequests` with a `DisruptionBudget`
//!   cause when a budget forbids it).
//! - Errors are `Status` objects: 400, 404, 405, 409, 410, 415, 422, 429 (and 500/504 when the
//!   owner drops or does not answer a request).
//!
//! # What is not
//!
//! Authentication and authorization (anyone on loopback may do anything), TLS, protobuf,
//! `/openapi` (use `kubectl apply --validate=false`), aggregated discovery, namespaces as
//! objects, other kinds, JSON patch, `limit`/`continue` paging (every list is one page, which
//! kubectl and kube-rs accept), field managers and apply conflicts (`force` is ignored and
//! fields an applier drops are kept), strategic merge's list merge keys, graceful deletion
//! (a delete removes at once), PodDisruptionBudget status, and controllers: nothing moves in
//! the store unless a client or the owner writes it.

mod handle;
mod http;
mod kind;
mod merge;
mod select;
mod store;
mod subresource;
mod typed;

#[cfg(test)]
mod store_tests;

pub use handle::{Action, Change, Handle, OWNER_TIMEOUT, OwnerMessage, Reply, Request};
pub use http::error::ApiError;
pub use http::{Config, Server, Shutdown};
pub use kind::Kind;
pub use merge::merge_patch;
pub use select::{Fields, Labels, SelectorError};
pub use store::{Clock, Event, EventType, Filter, Store, StoreError, SystemClock};
pub use subresource::{Disruption, desired_healthy, is_ready};

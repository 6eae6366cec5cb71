//! The shared store and the owner's channel: what the server and the owner (the testbed's
//! model) hold in common.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{mpsc, oneshot, watch};

use crate::kind::Kind;
use crate::store::Store;

/// A change a client asked for that the owner carries out (the cluster decides how replicas
/// and evictions happen). Answer each through its [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `deployments/NAME/scale` was patched or replaced: the deployment should run `replicas`.
    Scale {
        /// The deployment's namespace.
        namespace: String,
        /// The deployment.
        name: String,
        /// The replicas asked for.
        replicas: i32,
    },
    /// `pods/POD/eviction` passed the PodDisruptionBudget check: the pod should go (its
    /// deletion from the store is what `kubectl drain` waits for).
    Evict {
        /// The pod's namespace.
        namespace: String,
        /// The pod.
        pod: String,
    },
}

/// What a client wrote to the store directly (cordon, uncordon, taints, server-side apply,
/// deletes...), for the owner to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The object's kind.
    pub kind: Kind,
    /// Its namespace ("" for nodes).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// How it was written.
    pub action: Action,
}

/// How a client wrote an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// POST.
    Created,
    /// PUT.
    Replaced,
    /// A merge or strategic-merge PATCH (cordon, uncordon and taints are node patches).
    Patched,
    /// Server-side apply.
    Applied,
    /// DELETE.
    Deleted,
}

/// The owner's answer to a [`Request`]: `Ok` once it is carried out (or under way), `Err`
/// with a message to refuse it (the client gets a 409 Conflict with that message). A client
/// waits at most [`OWNER_TIMEOUT`] for it (then a 504), and a dropped reply is a 500.
#[derive(Debug)]
pub struct Reply(oneshot::Sender<Result<(), String>>);

impl Reply {
    /// Accepts the request.
    pub fn accept(self) {
        let _ = self.0.send(Ok(()));
    }

    /// Refuses the request with a message for the client.
    pub fn refuse(self, message: impl Into<String>) {
        let _ = self.0.send(Err(message.into()));
    }
}

/// What the server hands the owner.
#[derive(Debug)]
pub enum OwnerMessage {
    /// A request to carry out; the client waits for the reply.
    Request(Request, Reply),
    /// A write that already happened in the store.
    Changed(Change),
}

/// How long a client waits for the owner's [`Reply`].
pub const OWNER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why the owner did not carry out a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// It refused, with this message.
    #[error("{0}")]
    Refused(String),
    /// It dropped the [`Reply`].
    #[error("the cluster dropped the request without an answer")]
    Dropped,
    /// It did not answer within [`OWNER_TIMEOUT`].
    #[error("the cluster did not answer within {} s", OWNER_TIMEOUT.as_secs())]
    TimedOut,
}

struct Inner {
    store: Mutex<Store>,
    rv: watch::Sender<u64>,
    owner: Mutex<Option<mpsc::UnboundedSender<OwnerMessage>>>,
}

/// The store shared by the server and its owner. Cloning shares it.
///
/// Every write through [`Handle::write`] wakes the watches. Without an owner (see
/// [`Handle::take_owner`]) requests get their default behaviour: a scale sets the
/// deployment's `spec.replicas`, an eviction deletes the pod.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("store", &*self.lock())
            .finish()
    }
}

impl Handle {
    /// Shares a store.
    pub fn new(store: Store) -> Handle {
        let (rv, _) = watch::channel(store.resource_version());
        Handle {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                rv,
                owner: Mutex::new(None),
            }),
        }
    }

    /// Makes the caller the owner: from now on requests and changes arrive on the returned
    /// channel. Dropping the receiver restores the default behaviour.
    pub fn take_owner(&self) -> mpsc::UnboundedReceiver<OwnerMessage> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self
            .inner
            .owner
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tx);
        rx
    }

    /// Reads the store.
    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.lock())
    }

    /// Writes the store and wakes the watches.
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.lock();
        let out = f(&mut store);
        let rv = store.resource_version();
        drop(store);
        self.inner
            .rv
            .send_if_modified(|old| std::mem::replace(old, rv) != rv);
        out
    }

    /// A receiver that changes whenever the store's resourceVersion does.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.rv.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.inner
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a request to the owner and waits for its reply; `None` when there is no owner
    /// (the caller applies the default).
    pub(crate) async fn ask_owner(&self, request: Request) -> Option<Result<(), Refusal>> {
        let (tx, rx) = oneshot::channel();
        {
            let mut owner = self
                .inner
                .owner
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let sender = owner.as_ref()?;
            if sender
                .send(OwnerMessage::Request(request, Reply(tx)))
                .is_err()
            {
                *owner = None;
                return None;
            }
        }
        Some(match tokio::time::timeout(OWNER_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer.map_err(Refusal::Refused),
            Ok(Err(_)) => Err(Refusal::Dropped),
            Err(_) => Err(Refusal::TimedOut),
        })
    }

    /// Tells the owner about a client's write, if there is an owner.
    pub(crate) fn tell_owner(&self, change: Change) {
        let mut owner = self
            .inner
            .owner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = owner.as_ref()
            && sender.send(OwnerMessage::Changed(change)).is_err()
        {
            *owner = None;
        }
    }
}

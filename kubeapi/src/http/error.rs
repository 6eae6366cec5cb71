//! Errors as Kubernetes `Status` responses.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

use crate::kind::Kind;
use crate::store::StoreError;
use crate::subresource::Disruption;

/// A failed request, answered with a `Status` carrying its code and reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// The HTTP status code.
    pub code: u16,
    /// The Kubernetes reason (`NotFound`, `Invalid`, `TooManyRequests`...).
    pub reason: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Machine-readable details.
    pub details: Option<Box<StatusDetails>>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 404 NotFound for a path that serves nothing.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &http::Method, what: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on {what}"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    /// 422 Invalid.
    pub fn invalid(kind: Kind, name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::from(StoreError::Invalid {
            kind,
            name: name.to_string(),
            why: why.to_string(),
        })
    }

    /// The owner's refusal (409 Conflict), its silence (504 Timeout) or its dropped reply
    /// (500 InternalError).
    pub(crate) fn refused(refusal: crate::handle::Refusal) -> ApiError {
        use crate::handle::Refusal;
        let message = refusal.to_string();
        match refusal {
            Refusal::Refused(_) => ApiError::new(409, "Conflict", message),
            Refusal::TimedOut => ApiError::new(504, "Timeout", message),
            Refusal::Dropped => ApiError::new(500, "InternalError", message),
        }
    }

    /// 429 TooManyRequests for an eviction a PodDisruptionBudget forbids, as the API server
    /// writes it.
    pub fn disruption(d: &Disruption) -> ApiError {
        let mut e = ApiError::new(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        );
        e.details = Some(Box::new(StatusDetails {
            causes: Some(vec![StatusCause {
                reason: Some("DisruptionBudget".to_string()),
                message: Some(d.to_string()),
                field: None,
            }]),
            ..StatusDetails::default()
        }));
        e
    }

    /// The `Status` object.
    pub fn status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code)),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            reason: Some(self.reason.to_string()),
            status: Some("Failure".to_string()),
            ..Status::default()
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let details = |kind: Kind, name: &str| {
            Box::new(StatusDetails {
                name: Some(name.to_string()),
                kind: Some(kind.plural().to_string()),
                group: Some(
                    kind.api_version()
                        .rsplit_once('/')
                        .map_or("", |(g, _)| g)
                        .to_string(),
                ),
                ..StatusDetails::default()
            })
        };
        let (code, reason, d) = match &e {
            StoreError::NotFound { kind, name } => (404, "NotFound", Some(details(*kind, name))),
            StoreError::AlreadyExists { kind, name } => {
                (409, "AlreadyExists", Some(details(*kind, name)))
            }
            StoreError::Conflict { kind, name } => (409, "Conflict", Some(details(*kind, name))),
            StoreError::Invalid { kind, name, .. } => (422, "Invalid", Some(details(*kind, name))),
            StoreError::NotServed(_) => (404, "NotFound", None),
            StoreError::Expired { .. } => (410, "Expired", None),
        };
        ApiError {
            code,
            reason,
            message: e.to_string(),
            details: d,
        }
    }
}

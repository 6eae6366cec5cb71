//! What each request is: the endpoint, the method, headers and a body. Header values may name
//! environment variables (`Authorization: Bearer ${API_KEY}`): they are read once at start and
//! kept out of everything the engine writes.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Uri};
use scalebench_core::template::{RequestSpec, Template};

pub use crate::tls::TlsOptions;

/// Why a target could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse or is not usable.
    #[error("bad URL {url:?}: {why}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A header is not `Name: value`, or its name or value is not valid HTTP.
    #[error("bad header {header:?}: {why}")]
    Header {
        /// The header as given (with variables unexpanded).
        header: String,
        /// What is wrong with it.
        why: String,
    },
    /// A header names an environment variable that is not set.
    #[error("header {header:?} needs the environment variable {var}, which is not set")]
    MissingVar {
        /// The header as given.
        header: String,
        /// The variable.
        var: String,
    },
    /// The method is not a valid HTTP method.
    #[error("bad HTTP method {0:?}")]
    Method(String),
    /// The body template has a field it cannot fill.
    #[error("bad body template: {0}")]
    Body(String),
}

/// The endpoint and the request sent to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The full URI of every request.
    pub uri: Uri,
    /// The method (POST when there is a body, else GET, unless given).
    pub method: Method,
    /// Headers, variables already expanded.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body (empty for none).
    pub body: Bytes,
    /// The body as a template with per-request fields (`{{seq}}`, `{{int 1 9}}`, ...), when it
    /// has any; `body` is then unused.
    pub template: Option<Arc<Template>>,
    /// How to trust the server's certificate, for https.
    pub tls: TlsOptions,
}

impl Target {
    /// A target from a URL (`http://host:port/path`), an optional method, `Name: value` headers
    /// and an optional body; `env` looks up `${VAR}` references in header values.
    pub fn new(
        url: &str,
        method: Option<&str>,
        headers: &[String],
        body: Option<Bytes>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Target, TargetError> {
        let bad = |why: &str| TargetError::Url {
            url: url.to_string(),
            why: why.to_string(),
        };
        let uri: Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(bad("expected http://host:port/path or https://...")),
        }
        if uri.host().is_none() {
            return Err(bad("no host"));
        }
        let method = match method {
            Some(m) => parse_method(m)?,
            None if body.is_some() => Method::POST,
            None => Method::GET,
        };
        let mut headers: Vec<(HeaderName, HeaderValue)> = headers
            .iter()
            .map(|h| parse_header(h, &env))
            .collect::<Result<_, _>>()?;
        if body.is_some() {
            default_json(&mut headers);
        }
        Ok(Target {
            uri,
            method,
            headers,
            template: template_of(body.as_deref())?,
            body: body.unwrap_or_default(),
            tls: TlsOptions::default(),
        })
    }

    /// The target of a request class: its method, path, headers and body replace or extend
    /// this one's; `env` expands `${VAR}` in its headers.
    pub fn for_class(
        &self,
        spec: &RequestSpec,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Target, TargetError> {
        let mut t = self.clone();
        if let Some(path) = &spec.path {
            let mut parts = self.uri.clone().into_parts();
            parts.path_and_query = Some(path.parse().map_err(|e| TargetError::Url {
                url: path.clone(),
                why: format!("{e}"),
            })?);
            t.uri = Uri::from_parts(parts).map_err(|e| TargetError::Url {
                url: path.clone(),
                why: e.to_string(),
            })?;
        }
        for (name, value) in &spec.headers {
            let (name, value) = parse_header(&format!("{name}: {value}"), &env)?;
            t.headers.retain(|(n, _)| *n != name);
            t.headers.push((name, value));
        }
        if let Some(body) = &spec.body {
            t.template = template_of(Some(body.as_bytes()))?;
            t.body = Bytes::from(body.clone());
            default_json(&mut t.headers);
        }
        t.method = match &spec.method {
            Some(m) => parse_method(m)?,
            None if spec.body.is_some() && t.method == Method::GET => Method::POST,
            None => t.method,
        };
        Ok(t)
    }

    /// The request as HTTP/1.1 sends it: request line, `Host`, the headers, `Content-Length`
    /// when there is a body (or the method expects one), and the body.
    pub fn wire(&self) -> Vec<u8> {
        self.wire_with(&self.body)
    }

    /// [`Target::wire`] with `body` as the body.
    pub fn wire_with(&self, body: &[u8]) -> Vec<u8> {
        let mut w = Vec::with_capacity(256 + body.len());
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        w.extend_from_slice(format!("{} {path} HTTP/1.1\r\n", self.method).as_bytes());
        let has = |name: &http::HeaderName| self.headers.iter().any(|(n, _)| n == name);
        if !has(&http::header::HOST)
            && let Some(authority) = self.uri.authority()
        {
            w.extend_from_slice(format!("host: {authority}\r\n").as_bytes());
        }
        if !has(&http::header::USER_AGENT) {
            w.extend_from_slice(
                concat!("user-agent: scalebench/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes(),
            );
        }
        for (name, value) in &self.headers {
            w.extend_from_slice(name.as_str().as_bytes());
            w.extend_from_slice(b": ");
            w.extend_from_slice(value.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        let wants_body = matches!(self.method, Method::POST | Method::PUT | Method::PATCH);
        if (!body.is_empty() || wants_body) && !has(&http::header::CONTENT_LENGTH) {
            w.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(body);
        w
    }
}

/// A method as given (any case).
fn parse_method(m: &str) -> Result<Method, TargetError> {
    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
        .map_err(|_| TargetError::Method(m.to_string()))
}

/// A body is JSON unless a `Content-Type` header says otherwise.
fn default_json(headers: &mut Vec<(HeaderName, HeaderValue)>) {
    if !headers.iter().any(|(n, _)| n == http::header::CONTENT_TYPE) {
        headers.push((
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
    }
}

/// The body's template, when it has fields.
fn template_of(body: Option<&[u8]>) -> Result<Option<Arc<Template>>, TargetError> {
    let Some(text) = body.and_then(|b| std::str::from_utf8(b).ok()) else {
        return Ok(None);
    };
    let t = Template::parse(text).map_err(TargetError::Body)?;
    Ok((!t.is_static()).then(|| Arc::new(t)))
}

/// `Name: value`, with `${VAR}` in the value replaced from `env`.
fn parse_header(
    raw: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(HeaderName, HeaderValue), TargetError> {
    let bad = |why: &str| TargetError::Header {
        header: raw.to_string(),
        why: why.to_string(),
    };
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| bad("expected Name: value"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| bad(&e.to_string()))?;
    let mut out = String::new();
    let mut rest = value.trim();
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after.find('}').ok_or_else(|| bad("unclosed ${"))?;
        let var = &after[..end];
        let v = env(var).ok_or_else(|| TargetError::MissingVar {
            header: raw.to_string(),
            var: var.to_string(),
        })?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let mut value = HeaderValue::from_str(&out).map_err(|e| bad(&e.to_string()))?;
    // Header values built from the environment are credentials more often than not.
    value.set_sensitive(true);
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        (var == "API_KEY").then(|| "s3cret".to_string())
    }

    #[test]
    fn urls_methods_headers_and_variables() {
        let t = Target::new(
            "http://127.0.0.1:8080/predict",
            None,
            &["Authorization: Bearer ${API_KEY}".into()],
            Some(Bytes::from_static(b"{}")),
            env,
        );
        let t = match t {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(t.method, Method::POST);
        assert_eq!(t.headers[0].1, "Bearer s3cret");
        assert!(t.headers[0].1.is_sensitive());
        let get = Target::new("http://localhost/", None, &[], None, env);
        assert!(get.is_ok_and(|t| t.method == Method::GET));
        for (url, headers, want) in [
            ("ftp://x/", vec![], "expected http://"),
            ("localhost:80", vec![], "expected http://"),
            ("http://x/", vec!["NoColon".into()], "expected Name: value"),
            (
                "http://x/",
                vec!["A: ${NOPE}".into()],
                "NOPE, which is not set",
            ),
            ("http://x/", vec!["A: ${API_KEY".into()], "unclosed"),
        ] {
            let e = Target::new(url, None, &headers, None, env).map(|_| ());
            assert!(
                e.is_err_and(|e| e.to_string().contains(want)),
                "{url} {headers:?}"
            );
        }
    }
}

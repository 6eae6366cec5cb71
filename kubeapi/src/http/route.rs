//! Paths and query strings.

use std::collections::HashMap;

use crate::kind::Kind;

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/GROUP`.
    Group(String),
    /// `/api/v1` or `/apis/GROUP/VERSION`.
    Resources(String),
    /// A collection, an object or a subresource.
    Resource(Resource),
}

/// A collection (`name` is `None`), an object, or an object's subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The kind.
    pub kind: Kind,
    /// The namespace of the path (`None`: all namespaces, or a cluster-scoped kind).
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// The subresource (`status`, `scale`, `eviction`).
    pub sub: Option<String>,
}

/// Resolves a path; `None` when nothing is served there.
pub fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (gv, rest) = match segs.as_slice() {
        ["version"] => return Some(Target::Version),
        ["api"] => return Some(Target::CoreVersions),
        ["apis"] => return Some(Target::Groups),
        ["apis", g] => return Some(Target::Group((*g).to_string())),
        ["api", v, rest @ ..] => ((*v).to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return None,
    };
    if rest.is_empty() {
        return Some(Target::Resources(gv));
    }
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, more @ ..] => {
            (Some((*ns).to_string()), [&[*plural][..], more].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let kind = Kind::from_resource(&gv, rest.first()?)?;
    if namespace.is_some() != kind.namespaced() && (namespace.is_some() || rest.len() > 1) {
        return None;
    }
    let (name, sub) = match rest.as_slice() {
        [_] => (None, None),
        [_, name] => (Some((*name).to_string()), None),
        [_, name, sub] => (Some((*name).to_string()), Some((*sub).to_string())),
        _ => return None,
    };
    Some(Target::Resource(Resource {
        kind,
        namespace,
        name,
        sub,
    }))
}

/// The decoded query parameters (the last of a repeated key wins).
pub fn query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let r = |kind, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
            Some(Target::Resource(Resource {
                kind,
                namespace: ns.map(String::from),
                name: name.map(String::from),
                sub: sub.map(String::from),
            }))
        };
        assert_eq!(parse("/api/v1/pods"), r(Kind::Pod, None, None, None));
        assert_eq!(
            parse("/api/v1/namespaces/default/pods/web-1/eviction"),
            r(Kind::Pod, Some("default"), Some("web-1"), Some("eviction"))
        );
        assert_eq!(
            parse("/api/v1/nodes/n1"),
            r(Kind::Node, None, Some("n1"), None)
        );
        assert_eq!(
            parse("/apis/apps/v1/namespaces/d/deployments/web/scale"),
            r(Kind::Deployment, Some("d"), Some("web"), Some("scale"))
        );
        assert_eq!(
            parse("/apis/autoscaling/v2"),
            Some(Target::Resources("autoscaling/v2".into()))
        );
        assert_eq!(parse("/api/v1/pods/x"), None);
        assert_eq!(parse("/api/v1/namespaces/d/nodes"), None);
        assert_eq!(parse("/apis/apps/v1/namespaces/d/pods"), None);
        assert_eq!(parse("/api/v1/namespaces/d/pods/a/b/c"), None);
        assert_eq!(parse("/healthz"), None);
    }

    #[test]
    fn query_decoding() {
        let q = query(Some(
            "fieldSelector=spec.nodeName%3Dnode-a&labelSelector=tier+in+(a%2Cb)&watch=1&x=%zz&y=%4",
        ));
        assert_eq!(q["fieldSelector"], "spec.nodeName=node-a");
        assert_eq!(q["labelSelector"], "tier in (a,b)");
        assert_eq!(q["watch"], "1");
        assert_eq!(q["x"], "%zz");
        assert_eq!(q["y"], "%4");
    }
}

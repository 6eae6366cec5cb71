//! Collections, objects and their subresources: list, create, get, replace, patch, apply,
//! delete, `status`, `deployments/scale` and `pods/eviction`.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use serde::Deserialize as _;
use serde_json::{Value, json};

use super::error::ApiError;
use super::route::Resource;
use super::{Ctx, Reply, json_reply, table, watch};
use crate::handle::{Action, Change, Request};
use crate::kind::Kind;
use crate::select::{Fields, Labels};
use crate::store::Filter;

/// A request on a served resource path.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub res: Resource,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

impl Call<'_> {
    fn header(&self, name: http::header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn ns(&self) -> &str {
        self.res.namespace.as_deref().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.res.name.as_deref().unwrap_or("")
    }

    fn body_value(&self) -> Result<Value, ApiError> {
        let yaml = self.header(http::header::CONTENT_TYPE).contains("yaml");
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(v) => Ok(v),
            Err(_) if yaml => serde_norway::from_slice::<Value>(&self.body).map_err(|e| {
                ApiError::bad_request(format!("the body is neither JSON nor YAML: {e}"))
            }),
            Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
        }
    }

    fn change(&self, action: Action) -> Change {
        Change {
            kind: self.res.kind,
            namespace: self.ns().to_string(),
            name: self.name().to_string(),
            action,
        }
    }
}

/// Routes a resource request to its handler.
pub(crate) async fn serve(ctx: &Ctx, call: Call<'_>) -> Result<Reply, ApiError> {
    let what = call.res.kind.plural();
    match (
        call.res.name.is_some(),
        call.res.sub.as_deref(),
        &call.method,
    ) {
        (false, None, &Method::GET) => list_or_watch(ctx, &call),
        (false, None, &Method::POST) => create(ctx, &call),
        (false, None, m) => Err(ApiError::method_not_allowed(m, what)),
        (false, Some(_), _) => Err(ApiError::no_route(what)),
        (true, None, &Method::GET) => get(ctx, &call),
        (true, None | Some("status"), &Method::PUT) => replace(ctx, &call),
        (true, None | Some("status"), &Method::PATCH) => patch(ctx, &call),
        (true, None, &Method::DELETE) => delete(ctx, &call),
        (true, Some("status"), &Method::GET) => get(ctx, &call),
        (true, Some("scale"), _) if call.res.kind == Kind::Deployment => scale(ctx, &call).await,
        (true, Some("eviction"), &Method::POST) if call.res.kind == Kind::Pod => {
            evict(ctx, &call).await
        }
        (true, None | Some("status" | "scale" | "eviction"), m) => {
            Err(ApiError::method_not_allowed(m, what))
        }
        (true, Some(sub), _) => Err(ApiError::no_route(&format!("{what}/{sub}"))),
    }
}

fn filter(call: &Call<'_>) -> Result<Filter, ApiError> {
    let labels = call
        .query
        .get("labelSelector")
        .map(|s| Labels::parse(s))
        .transpose();
    let fields = call
        .query
        .get("fieldSelector")
        .map(|s| Fields::parse(s))
        .transpose();
    Ok(Filter {
        namespace: call.res.namespace.clone(),
        labels: labels
            .map_err(|e| ApiError::bad_request(e.to_string()))?
            .unwrap_or_default(),
        fields: fields
            .map_err(|e| ApiError::bad_request(e.to_string()))?
            .unwrap_or_default(),
    })
}

fn wants_table(call: &Call<'_>) -> bool {
    table::wanted(call.header(http::header::ACCEPT)) && table::has_columns(call.res.kind)
}

fn list_or_watch(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let filter = filter(call)?;
    let kind = call.res.kind;
    if matches!(
        call.query.get("watch").map(String::as_str),
        Some("true" | "1")
    ) {
        return watch::start(ctx, kind, filter, &call.query, wants_table(call));
    }
    // `limit` is ignored: every list is one page without `continue`.
    let (items, rv, now) = ctx.handle.read(|s| {
        let (items, rv) = s.list(kind, &filter);
        (items, rv, s.now())
    });
    let refs: Vec<&Value> = items.iter().map(|o| &**o).collect();
    if wants_table(call) {
        return Ok(json_reply(StatusCode::OK, &table::table(kind, &refs, rv, now)).table());
    }
    let list = json!({"kind": format!("{}List", kind.name()), "apiVersion": kind.api_version(),
                      "metadata": {"resourceVersion": rv.to_string()}, "items": refs});
    Ok(json_reply(StatusCode::OK, &list))
}

fn check_type(kind: Kind, body: &Value) -> Result<(), ApiError> {
    let field = |f: &str| body.get(f).and_then(Value::as_str);
    if field("apiVersion").is_some_and(|v| v != kind.api_version())
        || field("kind").is_some_and(|k| k != kind.name())
    {
        return Err(ApiError::bad_request(format!(
            "the body is {} {}, not {} {}",
            field("apiVersion").unwrap_or(""),
            field("kind").unwrap_or(""),
            kind.api_version(),
            kind.name()
        )));
    }
    if !body.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    Ok(())
}

fn with_name(call: &Call<'_>, mut body: Value) -> Result<Value, ApiError> {
    check_type(call.res.kind, &body)?;
    match body.pointer("/metadata/name").and_then(Value::as_str) {
        Some(n) if n != call.name() => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name in the URL ({})",
                call.name()
            )));
        }
        Some(_) => {}
        None => {
            if !body.get("metadata").is_some_and(Value::is_object) {
                body["metadata"] = json!({});
            }
            body["metadata"]["name"] = json!(call.name());
        }
    }
    if call.res.kind.namespaced() {
        body["metadata"]["namespace"] = json!(call.ns());
    }
    Ok(body)
}

fn create(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let body = call.body_value()?;
    check_type(call.res.kind, &body)?;
    let ns = call.res.namespace.clone().unwrap_or_default();
    let created = ctx.handle.write(|s| s.create(call.res.kind, &ns, body))?;
    let name = crate::store::name_of(&created).to_string();
    ctx.handle.tell_owner(Change {
        kind: call.res.kind,
        namespace: ns,
        name,
        action: Action::Created,
    });
    Ok(json_reply(StatusCode::CREATED, &*created))
}

fn get(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let kind = call.res.kind;
    let (object, now) = ctx
        .handle
        .read(|s| (s.get(kind, call.ns(), call.name()), s.now()));
    let object = object.ok_or_else(|| not_found(call))?;
    if wants_table(call) && call.res.sub.is_none() {
        let rv = crate::store::rv_of(&object).unwrap_or(0);
        return Ok(json_reply(StatusCode::OK, &table::table(kind, &[&object], rv, now)).table());
    }
    Ok(json_reply(StatusCode::OK, &*object))
}

fn not_found(call: &Call<'_>) -> ApiError {
    crate::store::StoreError::NotFound {
        kind: call.res.kind,
        name: call.name().to_string(),
    }
    .into()
}

fn replace(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let mut body = with_name(call, call.body_value()?)?;
    let kind = call.res.kind;
    let out = ctx.handle.write(|s| {
        let old = s
            .get(kind, call.ns(), call.name())
            .ok_or_else(|| not_found(call))?;
        if call.res.sub.as_deref() == Some("status") {
            // Only the status changes through the status subresource.
            let status = body.get("status").cloned().unwrap_or(Value::Null);
            let rv = body.pointer("/metadata/resourceVersion").cloned();
            body = (*old).clone();
            body["status"] = status;
            if let Some(rv) = rv {
                body["metadata"]["resourceVersion"] = rv;
            }
        }
        Ok::<_, ApiError>(s.replace(kind, call.ns(), body, true)?.0)
    })?;
    ctx.handle.tell_owner(call.change(Action::Replaced));
    Ok(json_reply(StatusCode::OK, &*out))
}

fn patch(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let content_type = call.header(http::header::CONTENT_TYPE);
    let kind = call.res.kind;
    let mime = content_type.split(';').next().unwrap_or("").trim();
    match mime {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let mut body = call.body_value()?;
            if !body.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            if call.res.sub.as_deref() == Some("status") {
                body = json!({"status": body.get("status").cloned().unwrap_or(Value::Null)});
            }
            let out = ctx
                .handle
                .write(|s| s.patch(kind, call.ns(), call.name(), &body))?;
            ctx.handle.tell_owner(call.change(Action::Patched));
            Ok(json_reply(StatusCode::OK, &*out))
        }
        "application/apply-patch+yaml" | "application/apply-patch+cbor"
            if call.res.sub.is_none() =>
        {
            if call.query.get("fieldManager").is_none_or(String::is_empty) {
                return Err(ApiError::bad_request(
                    "PATCH with apply requires a fieldManager",
                ));
            }
            let body = call.body_value()?;
            if body.get("apiVersion").is_none() || body.get("kind").is_none() {
                return Err(ApiError::bad_request(
                    "an applied configuration needs apiVersion and kind",
                ));
            }
            let body = with_name(call, body)?;
            let (out, created) = ctx
                .handle
                .write(|s| s.apply(kind, call.ns(), call.name(), &body))?;
            ctx.handle.tell_owner(call.change(Action::Applied));
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_reply(code, &*out))
        }
        _ => Err(ApiError::unsupported_media(content_type)),
    }
}

fn delete(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let out = ctx
        .handle
        .write(|s| s.delete(call.res.kind, call.ns(), call.name()))?;
    ctx.handle.tell_owner(call.change(Action::Deleted));
    Ok(json_reply(StatusCode::OK, &*out))
}

async fn scale(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let (ns, name) = (call.ns().to_string(), call.name().to_string());
    let current = ctx.handle.read(|s| s.scale(&ns, &name))?;
    let wanted: Scale = match call.method {
        Method::GET => return Ok(json_reply(StatusCode::OK, &current)),
        Method::PATCH => {
            let ct = call.header(http::header::CONTENT_TYPE);
            if !ct.contains("merge-patch+json") {
                return Err(ApiError::unsupported_media(ct));
            }
            let mut v =
                serde_json::to_value(&current).map_err(|e| ApiError::bad_request(e.to_string()))?;
            crate::merge::merge_patch(&mut v, &call.body_value()?);
            Scale::deserialize(&v).map_err(|e| ApiError::invalid(Kind::Deployment, &name, e))?
        }
        Method::PUT => {
            let v = call.body_value()?;
            let s = Scale::deserialize(&v)
                .map_err(|e| ApiError::invalid(Kind::Deployment, &name, e))?;
            let want_rv = s
                .metadata
                .resource_version
                .as_deref()
                .filter(|r| !r.is_empty());
            if want_rv.is_some() && want_rv != current.metadata.resource_version.as_deref() {
                return Err(crate::store::StoreError::Conflict {
                    kind: Kind::Deployment,
                    name,
                }
                .into());
            }
            s
        }
        ref m => return Err(ApiError::method_not_allowed(m, "deployments/scale")),
    };
    let replicas = wanted.spec.and_then(|s| s.replicas).unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid(
            Kind::Deployment,
            &name,
            "spec.replicas: must be greater than or equal to 0",
        ));
    }
    let request = Request::Scale {
        namespace: ns.clone(),
        name: name.clone(),
        replicas,
    };
    match ctx.handle.ask_owner(request).await {
        Some(Err(refusal)) => return Err(ApiError::refused(refusal)),
        Some(Ok(())) => {}
        None => {
            ctx.handle.write(|s| s.set_replicas(&ns, &name, replicas))?;
        }
    }
    let mut out = ctx.handle.read(|s| s.scale(&ns, &name))?;
    out.spec = Some(k8s_openapi::api::autoscaling::v1::ScaleSpec {
        replicas: Some(replicas),
    });
    Ok(json_reply(StatusCode::OK, &out))
}

async fn evict(ctx: &Ctx, call: &Call<'_>) -> Result<Reply, ApiError> {
    let (ns, pod) = (call.ns().to_string(), call.name().to_string());
    let body = call.body_value()?;
    // kube-rs sends no apiVersion or kind and `delete_options` in snake case: both are fine.
    let eviction = Eviction::deserialize(&body)
        .map_err(|e| ApiError::bad_request(format!("not an Eviction: {e}")))?;
    if let Some(n) = eviction.metadata.name.as_deref().filter(|n| *n != pod) {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object ({n})"
        )));
    }
    ctx.handle
        .read(|s| s.eviction_check(&ns, &pod))?
        .map_err(|d| ApiError::disruption(&d))?;
    match ctx
        .handle
        .ask_owner(Request::Evict {
            namespace: ns.clone(),
            pod: pod.clone(),
        })
        .await
    {
        Some(Err(refusal)) => return Err(ApiError::refused(refusal)),
        Some(Ok(())) => {}
        None => {
            ctx.handle.write(|s| s.delete(Kind::Pod, &ns, &pod))?;
        }
    }
    let status = Status {
        status: Some("Success".into()),
        code: Some(201),
        ..Status::default()
    };
    Ok(json_reply(StatusCode::CREATED, &status))
}

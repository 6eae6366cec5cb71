//! One multi-document YAML file per setup, and reading such a file back.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Error, KnativeService, Objects, ScaledObject, keda, knative};

/// The objects as YAML documents, the notes as comments at the top.
pub fn to_yaml(objects: &Objects) -> Result<String, Error> {
    let mut out = String::from("# Written by `scalebench manifests`. Notes:\n");
    for n in &objects.notes {
        out.push_str("# - ");
        out.push_str(n);
        out.push('\n');
    }
    let docs = [
        doc(objects.deployment.as_ref(), "the Deployment")?,
        doc(objects.knative.as_ref(), "the Knative Service")?,
        doc(objects.hpa.as_ref(), "the HorizontalPodAutoscaler")?,
        doc(objects.scaled_object.as_ref(), "the ScaledObject")?,
    ];
    for text in docs.into_iter().flatten() {
        out.push_str("---\n");
        out.push_str(&text);
    }
    Ok(out)
}

fn doc<T: serde::Serialize>(o: Option<&T>, what: &'static str) -> Result<Option<String>, Error> {
    o.map(|o| serde_norway::to_string(o).map_err(|source| Error::Write { what, source }))
        .transpose()
}

/// Parses a multi-document YAML file into the objects of one setup: at most one Deployment,
/// HorizontalPodAutoscaler, ScaledObject and Knative Service. Empty documents are skipped.
pub fn parse_yaml(text: &str) -> Result<Objects, Error> {
    let mut objects = Objects::default();
    for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        let value = serde_norway::Value::deserialize(document).map_err(|source| Error::Parse {
            index,
            kind: "YAML document".into(),
            source,
        })?;
        if value.is_null() {
            continue;
        }
        let field = |k: &str| {
            value
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        match (api_version.as_str(), kind.as_str()) {
            ("apps/v1", "Deployment") => {
                set(&mut objects.deployment, value, index, kind)?;
            }
            ("autoscaling/v2", "HorizontalPodAutoscaler") => {
                set(&mut objects.hpa, value, index, kind)?;
            }
            (keda::API_VERSION, keda::KIND) => {
                set::<ScaledObject>(&mut objects.scaled_object, value, index, kind)?;
            }
            (knative::API_VERSION, knative::KIND) => {
                set::<KnativeService>(&mut objects.knative, value, index, kind)?;
            }
            _ => {
                return Err(Error::UnexpectedKind {
                    index,
                    api_version,
                    kind,
                });
            }
        }
    }
    Ok(objects)
}

fn set<T: DeserializeOwned>(
    slot: &mut Option<T>,
    value: serde_norway::Value,
    index: usize,
    kind: String,
) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::Invalid(format!(
            "document {index}: a second {kind}; one setup has one of each"
        )));
    }
    *slot = Some(
        serde_norway::from_value(value).map_err(|source| Error::Parse {
            index,
            kind,
            source,
        })?,
    );
    Ok(())
}

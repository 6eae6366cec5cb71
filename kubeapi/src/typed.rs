//! The owner's typed face of the store: k8s-openapi objects in, k8s-openapi objects out.

use std::sync::Arc;

use k8s_openapi::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::kind::Kind;
use crate::store::{Store, StoreError};

fn kind_of<K: Resource>() -> Result<Kind, StoreError> {
    Kind::of::<K>().ok_or(StoreError::NotServed(K::KIND))
}

impl Store {
    /// Creates or replaces a typed object, whatever its `resourceVersion` says (the owner is
    /// the source of truth). A namespaced object without a namespace goes to `default`.
    pub fn upsert<K: Resource + Serialize>(
        &mut self,
        object: &K,
    ) -> Result<Arc<Value>, StoreError> {
        let kind = kind_of::<K>()?;
        let value = serde_json::to_value(object).map_err(|e| StoreError::Invalid {
            kind,
            name: String::new(),
            why: e.to_string(),
        })?;
        Ok(self.replace(kind, "", value, false)?.0)
    }

    /// A typed object, if it exists.
    pub fn get_as<K: Resource + DeserializeOwned>(&self, namespace: &str, name: &str) -> Option<K> {
        let kind = kind_of::<K>().ok()?;
        K::deserialize(&*self.get(kind, namespace, name)?).ok()
    }

    /// Every object of a type, in all namespaces.
    pub fn all<K: Resource + DeserializeOwned>(&self) -> Vec<K> {
        let Ok(kind) = kind_of::<K>() else {
            return Vec::new();
        };
        let (items, _) = self.list(kind, &Default::default());
        items
            .iter()
            .filter_map(|o| K::deserialize(&**o).ok())
            .collect()
    }

    /// Removes a typed object.
    pub fn remove<K: Resource>(
        &mut self,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, StoreError> {
        self.delete(kind_of::<K>()?, namespace, name)
    }
}

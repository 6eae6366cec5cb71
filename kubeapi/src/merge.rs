//! JSON merge patch (RFC 7386): maps merge recursively, `null` deletes a key, anything else
//! (arrays included) replaces. It serves both `merge-patch+json` and
//! `strategic-merge-patch+json`: the strategic patches kubectl sends for cordon, uncordon and
//! taints carry whole lists (`NodeSpec.taints` has no patch strategy), so the two agree on them.
//! Server-side apply merges the applied configuration the same way.

use serde_json::Value;

/// Applies `patch` to `target` in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (json!({"a":"foo"}), json!(null), json!(null)),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want, "patch {patch}");
        }
    }

    #[test]
    fn taints_are_replaced_whole() {
        let mut node = json!({"spec":{"taints":[{"key":"a","effect":"NoSchedule"},{"key":"b","effect":"NoSchedule"}]}});
        merge_patch(
            &mut node,
            &json!({"spec":{"taints":[{"key":"b","effect":"NoSchedule"}]}}),
        );
        assert_eq!(
            node,
            json!({"spec":{"taints":[{"key":"b","effect":"NoSchedule"}]}})
        );
        merge_patch(&mut node, &json!({"spec":{"taints":null}}));
        assert_eq!(node, json!({"spec":{}}));
    }
}

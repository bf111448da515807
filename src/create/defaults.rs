//! Completes a Palette body from `[environments.create_defaults.<cloud>]`: only fields the
//! request leaves absent or empty; a value in the request wins.

use std::collections::BTreeMap;

use serde_json::{Value, json};

fn empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn fill(obj: &mut Value, key: &str, value: &Value) {
    if !obj.is_object() {
        *obj = json!({});
    }
    if empty(obj.get(key)) {
        obj[key] = value.clone();
    }
}

/// Applies `defaults` (one cloud's table) to `body`, in place.
pub fn apply(cloud: &str, body: &mut Value, defaults: Option<&BTreeMap<String, Value>>) {
    let Some(defaults) = defaults.filter(|d| !d.is_empty()) else {
        return;
    };
    if !body["spec"].is_object() {
        return;
    }
    for (key, value) in defaults {
        match (cloud, key.as_str()) {
            (_, "instanceType") => {
                if let Some(pools) = body["spec"]["machinepoolconfig"].as_array_mut() {
                    for p in pools {
                        fill(&mut p["cloudConfig"], key, value);
                    }
                }
            }
            ("vsphere", "datacenter" | "folder" | "imageTemplateFolder") => {
                fill(&mut body["spec"]["cloudConfig"]["placement"], key, value);
            }
            _ => fill(&mut body["spec"]["cloudConfig"], key, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wins_and_gaps_are_filled() {
        let d: BTreeMap<String, Value> = [
            ("region".to_string(), json!("us-east-1")),
            ("sshKeyName".to_string(), json!("ops")),
            ("instanceType".to_string(), json!("m5.large")),
        ]
        .into();
        let mut b = json!({"spec": {"cloudConfig": {"region": "eu-west-1", "sshKeyName": ""},
            "machinepoolconfig": [{"cloudConfig": {"instanceType": "t3.small"}}, {"poolConfig": {}}]}});
        apply("aws", &mut b, Some(&d));
        assert_eq!(
            b["spec"]["cloudConfig"],
            json!({"region": "eu-west-1", "sshKeyName": "ops"})
        );
        assert_eq!(
            b["spec"]["machinepoolconfig"][0]["cloudConfig"]["instanceType"],
            "t3.small"
        );
        assert_eq!(
            b["spec"]["machinepoolconfig"][1]["cloudConfig"]["instanceType"],
            "m5.large"
        );
    }

    #[test]
    fn vsphere_placement_keys_go_into_placement() {
        let d: BTreeMap<String, Value> = [("datacenter".to_string(), json!("dc-1"))].into();
        let mut b = json!({"spec": {}});
        apply("vsphere", &mut b, Some(&d));
        assert_eq!(b["spec"]["cloudConfig"]["placement"]["datacenter"], "dc-1");
    }
}

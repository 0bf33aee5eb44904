//! JSON Schema (2020-12) of every hook type's body, generated from the typed model (feature
//! `schema`): the envelope with its `type`, the event names as examples (their case varies, so
//! they are not an enum), and `data` from the model's types. Tolerant as the model is: unknown
//! members are allowed everywhere, and a type the model does not know is an [`OTHER_WEBHOOK`].

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::model::{
    FeedData, FeedEvent, MediaData, MediaEvent, RecordingData, RecordingEvent, TranscoderData,
    TranscoderEvent, ViewerConnectionData, ViewerConnectionEvent,
};

/// The definition of a body of a type the model does not know (yet).
pub const OTHER_WEBHOOK: &str = "OtherWebhook";

/// One hook type's body: its definition name, the `type` values that select it, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookBody {
    /// The name of its definition (`FeedsWebhook`, …).
    pub definition: &'static str,
    /// The `type` values of this hook type (`recordings` has an older spelling).
    pub types: &'static [&'static str],
    /// What the hook reports.
    pub description: &'static str,
}

/// Every hook type the model knows, in the documentation's order.
pub const HOOK_BODIES: &[HookBody] = &[
    HookBody {
        definition: "FeedsWebhook",
        types: &["feeds"],
        description: "A publisher's feed started or ended.",
    },
    HookBody {
        definition: "RecordingsWebhook",
        types: &["recordings", "recording"],
        description: "A recording started, completed, failed or was deleted (older documentation: `recording`).",
    },
    HookBody {
        definition: "MediaWebhook",
        types: &["media"],
        description: "A media asset (recording or clip) is processing, completed, errored or was deleted.",
    },
    HookBody {
        definition: "TranscoderWebhook",
        types: &["transcoder"],
        description: "A cloud transcoder became active, stopped or was deleted.",
    },
    HookBody {
        definition: "ViewerConnectionWebhook",
        types: &["viewerConnection"],
        description: "Viewers of a stream: an attempt, the first connection, none left.",
    },
];

fn envelope<E: JsonSchema, D: JsonSchema>(
    generator: &mut SchemaGenerator,
    hook: &HookBody,
) -> Schema {
    let type_schema = match hook.types {
        [only] => json_schema!({ "const": only }),
        several => json_schema!({ "enum": several }),
    };
    json_schema!({
        "title": hook.definition,
        "description": hook.description,
        "type": "object",
        "required": ["type", "event", "timestamp", "data"],
        "properties": {
            "type": type_schema,
            "event": generator.subschema_for::<E>(),
            "timestamp": {
                "type": "integer",
                "description": "When the platform sent the event, epoch milliseconds. Events arrive in no particular order: order by this.",
            },
            "data": generator.subschema_for::<D>(),
        },
    })
}

/// Adds a definition for each hook type's body ([`HOOK_BODIES`]) and for a body of any other
/// type ([`OTHER_WEBHOOK`]; `reserved_types` are types it must not claim, such as the relay's
/// own) to `generator`, with the definitions they refer to.
pub fn add_webhook_definitions(generator: &mut SchemaGenerator, reserved_types: &[&str]) {
    let mut bodies = Vec::new();
    for hook in HOOK_BODIES {
        let schema = match hook.definition {
            "FeedsWebhook" => envelope::<FeedEvent, FeedData>(generator, hook),
            "RecordingsWebhook" => envelope::<RecordingEvent, RecordingData>(generator, hook),
            "MediaWebhook" => envelope::<MediaEvent, MediaData>(generator, hook),
            "TranscoderWebhook" => envelope::<TranscoderEvent, TranscoderData>(generator, hook),
            _ => envelope::<ViewerConnectionEvent, ViewerConnectionData>(generator, hook),
        };
        bodies.push((hook.definition, schema));
    }
    let claimed: Vec<&str> = HOOK_BODIES
        .iter()
        .flat_map(|hook| hook.types.iter().copied())
        .chain(reserved_types.iter().copied())
        .collect();
    bodies.push((
        OTHER_WEBHOOK,
        json_schema!({
            "title": OTHER_WEBHOOK,
            "description": "A webhook of a type this contract does not describe yet: the platform adds types over time. Forwarded byte for byte like the others.",
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": { "type": "string", "not": { "enum": claimed } },
                "event": { "type": "string" },
                "timestamp": { "type": "integer" },
                "data": { "type": "object" },
            },
        }),
    ));
    let definitions = generator.definitions_mut();
    for (name, schema) in bodies {
        definitions.insert(name.to_owned(), schema.to_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::generate::SchemaSettings;

    #[test]
    fn the_described_hook_types_are_the_ones_the_model_types() {
        for hook in HOOK_BODIES {
            for kind in hook.types {
                assert!(crate::WebhookEvent::is_typed_kind(kind), "{kind}");
            }
        }
        let described = HOOK_BODIES.iter().flat_map(|h| h.types).count();
        assert_eq!(described, 6);
        assert!(!crate::WebhookEvent::is_typed_kind("thumbnail"));
        assert!(!crate::WebhookEvent::is_typed_kind("clips"));
    }

    #[test]
    fn every_hook_type_gets_a_definition_referring_to_its_data() {
        let mut generator = SchemaSettings::draft2020_12().into_generator();
        add_webhook_definitions(&mut generator, &["thumbnail"]);
        let definitions = generator.definitions();
        for hook in HOOK_BODIES {
            let body = &definitions[hook.definition];
            assert_eq!(
                body["required"],
                serde_json::json!(["type", "event", "timestamp", "data"])
            );
            let data_ref = body["properties"]["data"]["$ref"].as_str().unwrap();
            let data_name = data_ref.trim_start_matches("#/$defs/");
            assert!(definitions.contains_key(data_name), "{data_ref}");
        }
        assert_eq!(
            definitions["RecordingsWebhook"]["properties"]["type"]["enum"],
            serde_json::json!(["recordings", "recording"])
        );
        let other = &definitions[OTHER_WEBHOOK]["properties"]["type"]["not"]["enum"];
        assert!(other.as_array().unwrap().contains(&"thumbnail".into()));
        assert_eq!(
            definitions["FeedEvent"]["examples"],
            serde_json::json!(["started", "ended"])
        );
    }
}

//! The relay's CloudFormation stack as relayctl sees it: its outputs (`--stack NAME`).

use std::collections::HashMap;

use aws_sdk_cloudformation::error::DisplayErrorContext;

use crate::operator::error::OperatorError;

/// The outputs template.yaml declares, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs {
    pub stack_name: String,
    pub outputs: HashMap<String, String>,
}

impl StackOutputs {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.outputs.get(name).map(String::as_str)
    }

    /// The function's settings (`RelaySettings`: variable name → value), for replaying and
    /// probing exactly as the relay would.
    pub fn relay_settings(&self) -> HashMap<String, String> {
        self.get("RelaySettings")
            .and_then(|json| serde_json::from_str::<HashMap<String, String>>(json).ok())
            .unwrap_or_default()
    }
}

/// Reads the outputs of `stack_name`.
pub async fn read_outputs(
    client: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<StackOutputs, OperatorError> {
    let output = client
        .describe_stacks()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|error| {
            if DisplayErrorContext(&error)
                .to_string()
                .contains("does not exist")
            {
                OperatorError::NoStack {
                    stack: stack_name.to_owned(),
                    source: Some(Box::new(error)),
                }
            } else {
                OperatorError::aws(format!("cloudformation DescribeStacks {stack_name}"), error)
            }
        })?;
    let stack = output
        .stacks()
        .first()
        .ok_or_else(|| OperatorError::NoStack {
            stack: stack_name.to_owned(),
            source: None,
        })?;
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    Ok(StackOutputs {
        stack_name: stack_name.to_owned(),
        outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_settings_are_read_from_their_json_output() {
        let outputs = StackOutputs {
            stack_name: "s".into(),
            outputs: HashMap::from([(
                "RelaySettings".to_owned(),
                r#"{"THUMBNAIL_PREFIX":"img/", "SECRET_REFRESH_SECONDS":"7"}"#.to_owned(),
            )]),
        };
        let settings = outputs.relay_settings();
        assert_eq!(settings["THUMBNAIL_PREFIX"], "img/");
        assert_eq!(settings["SECRET_REFRESH_SECONDS"], "7");
        assert!(StackOutputs::default().relay_settings().is_empty());
    }
}

//! A JSON Schema of the policy format, so editors (e.g. the YAML language server) can check
//! policies as they are typed. The checker remains the authority; the schema mirrors it.

/// The JSON Schema (draft-07) of the policy format, as JSON text.
pub fn json_schema() -> &'static str {
    include_str!("policy.schema.json")
}

#[cfg(test)]
mod tests {
    use super::json_schema;
    use crate::decision::Effect;
    use crate::window::WEEKDAY_NAMES;

    fn schema() -> serde_json::Value {
        serde_json::from_str(json_schema()).expect("the schema is valid JSON")
    }

    #[test]
    fn schema_lists_the_same_effects_as_the_language() {
        let effects = &schema()["definitions"]["rule"]["properties"]["effect"]["enum"];
        let names: Vec<&str> = Effect::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(effects, &serde_json::json!(names));
    }

    #[test]
    fn schema_lists_the_same_weekdays_as_the_language() {
        let days = &schema()["definitions"]["time"]["properties"]["days"]["items"]["enum"];
        assert_eq!(days, &serde_json::json!(WEEKDAY_NAMES));
    }

    #[test]
    fn schema_defaults_the_session_name_roles_the_language_defaults() {
        let described =
            schema()["definitions"]["identity"]["properties"]["session_name_roles"]["description"]
                .as_str()
                .expect("a description")
                .to_owned();
        let defaults = serde_json::to_string(crate::DEFAULT_SESSION_NAME_ROLES).expect("JSON");
        assert!(
            described.contains(&defaults),
            "{described} does not name {defaults}"
        );
    }

    #[test]
    fn schema_requires_the_supported_version() {
        assert_eq!(
            schema()["properties"]["version"]["const"],
            crate::check::VERSION
        );
    }
}

//! The model's answer: its JSON schema, robust extraction of the JSON object from whatever text
//! a model returns (code fences, `<think>` blocks, prose around it), and lenient parsing.
//!
//! Parsing is per hypothesis: one malformed hypothesis is rejected on its own and does not throw
//! away the others. Nothing is trusted here; [`crate::ground`] decides what survives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A search the model asked for, to be run on the index before asking it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Free text for the index's query parser; untrusted model output.
    pub query: String,
    pub entity: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Most lines to return.
    pub limit: usize,
}

/// What the model answered, before grounding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// Each hypothesis as the model wrote it.
    pub hypotheses: Vec<Value>,
    pub searches: Vec<FollowUp>,
}

/// The JSON schema of an answer, for `response_format` and for the prompt. Strict-mode
/// compatible: every property required, no extra properties, nullable via a type union.
pub fn answer_schema() -> Value {
    let string = json!({"type": "string"});
    let nullable = json!({"type": ["string", "null"]});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["hypotheses", "searches"],
        "properties": {
            "hypotheses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["cause", "entity", "fault_type", "confidence", "evidence_ids",
                                 "reasoning", "fixes", "would_confirm"],
                    "properties": {
                        "cause": string,
                        "entity": string,
                        "fault_type": string,
                        "confidence": {"type": "number", "description": "0 to 1"},
                        "evidence_ids": {"type": "array", "items": {"type": "string"}},
                        "reasoning": string,
                        "fixes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": false,
                                "required": ["action", "risk", "verify"],
                                "properties": {
                                    "action": string,
                                    "risk": {"type": "string", "enum": ["low", "medium", "high"]},
                                    "verify": string,
                                }
                            }
                        },
                        "would_confirm": string,
                    }
                }
            },
            "searches": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["query", "entity", "from", "to"],
                    "properties": {
                        "query": string,
                        "entity": nullable,
                        "from": nullable,
                        "to": nullable,
                    }
                }
            }
        }
    })
}

/// A compact example of the answer's shape, for the prompt.
pub fn answer_shape() -> &'static str {
    r#"{"hypotheses":[{"cause":"...","entity":"...","fault_type":"exception","confidence":0.7,"evidence_ids":["E1","E3"],"reasoning":"...","fixes":[{"action":"...","risk":"low","verify":"..."}],"would_confirm":"..."}],"searches":[{"query":"...","entity":null,"from":null,"to":null}]}"#
}

/// Drops `<think>…</think>` blocks that reasoning models put before their answer.
fn strip_think(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The end (exclusive) of the balanced JSON object or array starting at `start`, string-aware.
fn balanced_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Finds the answer's JSON in a model's text: the whole text, else the first balanced object
/// that parses and has a `hypotheses` key, else the first that parses at all.
pub fn extract_json(text: &str) -> Result<Value, String> {
    let text = strip_think(text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the answer is empty".into());
    }
    let first_error = match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => return Ok(v),
        Err(e) => e.to_string(),
    };
    let b = trimmed.as_bytes();
    let mut fallback = None;
    for (i, &c) in b.iter().enumerate() {
        if c != b'{' {
            continue;
        }
        let Some(end) = balanced_end(b, i) else {
            continue;
        };
        if let Ok(v) = serde_json::from_str::<Value>(&trimmed[i..end]) {
            if v.get("hypotheses").is_some() {
                return Ok(v);
            }
            fallback.get_or_insert(v);
        }
    }
    fallback.ok_or_else(|| format!("no JSON object found in the answer ({first_error})"))
}

fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = v?.as_str()?;
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads an answer from a model's text. Errors are short, for a repair request.
pub fn parse_answer(text: &str, search_limit: usize) -> Result<Answer, String> {
    let value = extract_json(text)?;
    let (hyps, searches) = match &value {
        // A bare list of hypotheses is accepted.
        Value::Array(items) => (items.clone(), vec![]),
        Value::Object(map) => {
            let hyps = match map.get("hypotheses") {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) | None if map.contains_key("searches") => vec![],
                Some(_) => return Err("\"hypotheses\" must be an array".into()),
                None => return Err("the answer has no \"hypotheses\" array".into()),
            };
            let searches = match map.get("searches") {
                Some(Value::Array(items)) => items.clone(),
                _ => vec![],
            };
            (hyps, searches)
        }
        _ => return Err("the answer is not a JSON object".into()),
    };
    let searches = searches
        .iter()
        .filter_map(|s| {
            let query = s.get("query")?.as_str()?.trim();
            if query.is_empty() {
                return None;
            }
            Some(FollowUp {
                query: query.to_string(),
                entity: s
                    .get("entity")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_string),
                start: parse_time(s.get("from")),
                end: parse_time(s.get("to")),
                limit: search_limit,
            })
        })
        .collect();
    Ok(Answer {
        hypotheses: hyps,
        searches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_from_messy_text() {
        let fenced =
            "Here is my analysis:\n```json\n{\"hypotheses\": [], \"searches\": []}\n```\nThanks";
        assert_eq!(extract_json(fenced).unwrap()["hypotheses"], json!([]));
        let think = "<think>maybe {not json} here</think>{\"hypotheses\":[{\"cause\":\"a } b\"}]}";
        assert_eq!(
            extract_json(think).unwrap()["hypotheses"][0]["cause"],
            "a } b"
        );
        let two = "{\"note\": 1} and then {\"hypotheses\": [1]}";
        assert_eq!(extract_json(two).unwrap()["hypotheses"], json!([1]));
        assert!(extract_json("no json at all").is_err());
        assert!(extract_json("{\"hypotheses\": [").is_err());
        assert!(extract_json("").is_err());
    }

    #[test]
    fn parsing_is_lenient_but_shaped() {
        let a = parse_answer(
            r#"{"hypotheses":[{"cause":"x"}],"searches":[{"query":"timeout","entity":"db","from":"2023-01-29T09:00:00Z","to":null},{"query":"  "}]}"#,
            5,
        )
        .unwrap();
        assert_eq!(a.hypotheses.len(), 1);
        assert_eq!(a.searches.len(), 1);
        assert_eq!(a.searches[0].entity.as_deref(), Some("db"));
        assert!(a.searches[0].start.is_some() && a.searches[0].end.is_none());
        assert_eq!(a.searches[0].limit, 5);
        assert!(parse_answer(r#"{"answer": "db"}"#, 5).is_err());
        assert!(parse_answer(r#"{"hypotheses": "db"}"#, 5).is_err());
        assert_eq!(
            parse_answer(r#"[{"cause":"x"}]"#, 5)
                .unwrap()
                .hypotheses
                .len(),
            1
        );
    }

    #[test]
    fn schema_is_strict_mode_shaped() {
        let s = answer_schema();
        let h = &s["properties"]["hypotheses"]["items"];
        let props = h["properties"].as_object().unwrap();
        let required: Vec<&str> = h["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(props.len(), required.len());
        assert!(props.keys().all(|k| required.contains(&k.as_str())));
        let shape: Value = serde_json::from_str(answer_shape()).unwrap();
        assert!(shape["hypotheses"][0]["evidence_ids"].is_array());
    }
}

//! JSON lines. The object is walked once with a visitor that keeps only the keys the
//! [`JsonMapping`](super::JsonMapping) names (borrowed from the line when unescaped) and skips
//! the rest without building a `serde_json::Value`: most of a JSON line's cost is allocation.
//!
//! A Docker json-file wrapper (`{"log":"...\n","stream":"stderr","time":"..."}`) is unwrapped
//! here when asked, and the inner line parsed in any format.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::{Fields, JsonMapping, Scalar, Slot, container};
use crate::parse::{LineContext, ParseError, ParsedLine};

/// Parses a JSON object line; with `unwrap_docker`, a Docker json-file wrapper is unwrapped.
pub(crate) fn parse(
    line: &str,
    ctx: &LineContext<'_>,
    unwrap_docker: bool,
) -> Result<(ParsedLine, bool), ParseError> {
    let mapping = ctx.json_mapping.unwrap_or_else(|| super::default_mapping());
    let obj = read_object(line, mapping)?;
    if unwrap_docker
        && ctx.fallback_ts_ns.is_none()
        && let Some(c) = obj.docker(super::year_rule(ctx))
    {
        return super::parse_container_inner(&c, ctx);
    }
    obj.fields
        .finish(line, ctx, || mapping.timestamp.join(", "))
}

/// What one pass over a JSON object collects.
#[derive(Debug, Default)]
pub(crate) struct Object<'a> {
    pub fields: Fields<'a>,
    docker_log: Option<Cow<'a, str>>,
    docker_stream: Option<Cow<'a, str>>,
    docker_time: Option<Cow<'a, str>>,
}

impl<'a> Object<'a> {
    /// The Docker json-file wrapper, when the object is one (exactly `log`, `stream`, `time`
    /// with the usual values; extra keys such as `attrs` are allowed).
    pub(crate) fn docker(
        &self,
        years: super::timestamp::YearRule,
    ) -> Option<container::ContainerLine<'a>> {
        let stream = container::Stream::parse(self.docker_stream.as_deref()?)?;
        let ts_ns = super::timestamp::parse_value(self.docker_time.as_deref()?, years)?;
        let log = self.docker_log.clone()?;
        // json-file splits lines longer than 16 KiB; only the last piece ends in a newline.
        let partial = !log.ends_with('\n');
        let content = match log {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim_end_matches(['\n', '\r'])),
            Cow::Owned(mut s) => {
                let n = s.trim_end_matches(['\n', '\r']).len();
                s.truncate(n);
                Cow::Owned(s)
            }
        };
        Some(container::ContainerLine {
            ts_ns,
            stream,
            partial,
            content,
        })
    }
}

pub(crate) fn read_object<'a>(
    line: &'a str,
    mapping: &JsonMapping,
) -> Result<Object<'a>, ParseError> {
    let mut de = serde_json::Deserializer::from_str(line);
    let obj = de.deserialize_any(ObjectVisitor { mapping }).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            ParseError::NotAnObject
        } else {
            ParseError::InvalidJson(e.to_string())
        }
    })?;
    de.end()
        .map_err(|e| ParseError::InvalidJson(e.to_string()))?;
    Ok(obj)
}

struct ObjectVisitor<'m> {
    mapping: &'m JsonMapping,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_> {
    type Value = Object<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
        let mut obj = Object::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let mut wanted: [Option<(Slot, usize)>; 6] = [None; 6];
            let mut n = 0;
            Fields::matches(self.mapping, &key, |slot, prio| {
                if obj.fields.wants(slot, prio) {
                    wanted[n] = Some((slot, prio));
                    n += 1;
                }
            });
            let docker = matches!(&*key, "log" | "stream" | "time");
            if n == 0 && !docker {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = map.next_value_seed(ScalarSeed)?;
            if docker && let Scalar::Str(s) = &value {
                match &*key {
                    "log" => obj.docker_log = Some(s.clone()),
                    "stream" => obj.docker_stream = Some(s.clone()),
                    _ => obj.docker_time = Some(s.clone()),
                }
            }
            for (slot, prio) in wanted.iter().take(n).flatten() {
                obj.fields.set(*slot, *prio, value.clone());
            }
        }
        Ok(obj)
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Key)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// Any JSON value as a [`Scalar`]; objects and arrays are kept as JSON text.
struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::Other(v.to_string()),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v: serde_json::Value =
            de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Scalar::Other(v.to_string()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v: serde_json::Value =
            de::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Scalar::Other(v.to_string()))
    }
}

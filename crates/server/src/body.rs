//! Request bodies: the [`JsonBody`] extractor every handler reads its body with, and
//! [`ObjectsOnly`], the serde adapter under which a struct must be written as a JSON object.
//!
//! Serde's derived structs also accept the *sequence* form of a struct — its fields' values in
//! declaration order, `["3.0.0"]` for `{"version": "3.0.0"}` — and `serde_json` offers it for every
//! struct, at any depth. No client writes a request that way on purpose; accepting it let
//! arrays create prompts and move labels. [`ObjectsOnly`] wraps a deserializer and everything it
//! hands out (visitors, sequence and map accesses, seeds), so that every struct, however deeply
//! nested and whichever crate defines it, refuses a sequence with "expected a JSON object".
//! Responses are not here: they are written with `crate::error::Json`.

use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

use crate::error::ApiError;

/// A JSON request body: `Content-Type: application/json` (or `…+json`), a JSON object at the top,
/// and every struct inside written as an object. Errors are problems: 415 for another media
/// type, 400 `malformed_json` for broken JSON, 422 `invalid_body` for JSON of the wrong shape, 400
/// `invalid_id` for a malformed `prompt.id`, 413 for a body over the limit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON: send `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is larger than the server's limit",
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    format!("the request body could not be read: {rejection}"),
                )
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Whether `Content-Type` is `application/json` or `application/<something>+json`, parameters
/// (`; charset=utf-8`) allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len())
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        format!("request body: not valid JSON: {e}"),
    )
}

/// Parses a request body: a JSON object whose structs are all objects (see the module's docs).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first != Some(b'{') {
        // Broken JSON is a 400; well-formed JSON that is not an object (an array, a string) a 422.
        serde_json::from_slice::<de::IgnoredAny>(bytes).map_err(|e| malformed(&e))?;
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "request body: must be a JSON object (`{…}`), not an array or another value; see /openapi.json",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(ObjectsOnly(&mut de)) {
        Ok(value) => value,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.classify() != serde_json::error::Category::Data {
                // serde_json reports some type errors (`null` where an enum goes) as syntax: the
                // JSON itself decides which it is.
                if let Err(syntax) = serde_json::from_slice::<de::IgnoredAny>(bytes) {
                    return Err(malformed(&syntax));
                }
            }
            if path == "prompt.id"
                && let Some(e) = invalid_prompt_id(bytes)
            {
                return Err(e);
            }
            let at = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("request body: {at}{inner}"),
            ));
        }
    };
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// The core's own error for a `prompt.id` that is a string but not a valid id: 400 `invalid_id`
/// quoting the bad part, as for an id in the path. `None` when the id is not a string at all (a
/// number, say): that stays a 422 of the body's shape.
fn invalid_prompt_id(bytes: &[u8]) -> Option<ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let id = value.get("prompt")?.get("id")?.as_str()?;
    prompt_manager::PromptId::new(id).err().map(ApiError::from)
}

/// A deserializer under which every struct must be a JSON object (see the module's docs).
pub(crate) struct ObjectsOnly<D>(pub(crate) D);

/// A visitor whose nested deserializers are [`ObjectsOnly`] too.
struct Wrap<V>(V);

/// The visitor of a struct: a map, nothing else.
struct MapOnly<V>(V);

/// A seed whose deserializer is [`ObjectsOnly`].
struct Seed<S>(S);

/// Sequence, map and enum accesses whose elements are read through [`Seed`].
struct Access<A>(A);

macro_rules! forward_deserialize {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method($($($arg,)*)? Wrap(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any; deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32;
        deserialize_i64; deserialize_i128; deserialize_u8; deserialize_u16; deserialize_u32;
        deserialize_u64; deserialize_u128; deserialize_f32; deserialize_f64; deserialize_char;
        deserialize_str; deserialize_string; deserialize_bytes; deserialize_byte_buf;
        deserialize_option; deserialize_unit; deserialize_seq; deserialize_map;
        deserialize_identifier; deserialize_ignored_any;
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, MapOnly(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for MapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Access(map))
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool(bool); visit_i8(i8); visit_i16(i16); visit_i32(i32); visit_i64(i64);
        visit_i128(i128); visit_u8(u8); visit_u16(u16); visit_u32(u32); visit_u64(u64);
        visit_u128(u128); visit_f32(f32); visit_f64(f64); visit_char(char); visit_str(&str);
        visit_borrowed_str(&'de str); visit_string(String); visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]); visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(ObjectsOnly(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(ObjectsOnly(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Access(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Access(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Access(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Access<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Access<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Access<A> {
    type Error = A::Error;
    type Variant = Access<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0
            .variant_seed(Seed(seed))
            .map(|(value, variant)| (value, Access(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Access<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, MapOnly(visitor))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Inner,
        list: Vec<Inner>,
        maybe: Option<Inner>,
        tuple: (u32, String),
    }

    fn detail(e: ApiError) -> (u16, String) {
        let p = e.problem();
        (p.status, p.detail)
    }

    #[test]
    fn objects_parse_and_sequence_forms_are_refused_at_any_depth() {
        let ok: Outer =
            parse(br#"{"inner": {"a": 1}, "list": [{"a": 2}], "maybe": {"a": 3}, "tuple": [4, "x"]}"#).unwrap();
        assert_eq!(ok.list, vec![Inner { a: 2 }]);
        for (body, path) in [
            (
                r#"{"inner": [1], "list": [], "maybe": null, "tuple": [4, "x"]}"#,
                "inner",
            ),
            (
                r#"{"inner": {"a": 1}, "list": [[2]], "maybe": null, "tuple": [4, "x"]}"#,
                "list[0]",
            ),
            (
                r#"{"inner": {"a": 1}, "list": [], "maybe": [3], "tuple": [4, "x"]}"#,
                "maybe",
            ),
        ] {
            let (status, detail) = detail(parse::<Outer>(body.as_bytes()).unwrap_err());
            assert_eq!(status, 422, "{detail}");
            assert!(
                detail.contains(&format!("{path}: invalid type: sequence, expected a JSON object")),
                "{detail}"
            );
        }
        let (status, detail) = detail(parse::<Outer>(br#"[{"a": 1}, [], null, [4, "x"]]"#).unwrap_err());
        assert_eq!(status, 422);
        assert!(detail.contains("must be a JSON object"), "{detail}");
        assert_eq!(detail_of(b"[1, "), 400, "broken JSON stays malformed");
        assert_eq!(
            detail_of(br#"{"inner": {"a": 1}, "list": [], "maybe": null, "tuple": [4, "x"]} x"#),
            400,
            "trailing characters"
        );
    }

    fn detail_of(body: &[u8]) -> u16 {
        parse::<Outer>(body).unwrap_err().problem().status
    }

    #[test]
    fn json_media_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/json"));
        assert!(!with("application/+json"));
        assert!(!with("application/jsonx"));
    }
}

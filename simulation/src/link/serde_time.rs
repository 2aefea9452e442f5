//! Serde adapters writing times as whole microseconds, so scenario files read `delay_us = 20000`
//! rather than serde's default `{ secs, nanos }` for [`Duration`].

/// [`std::time::Duration`] as a `u64` count of microseconds (sub-microsecond parts are
/// truncated on output; durations above `u64::MAX` µs saturate).
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(value.as_micros()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}

/// [`lightspeed_protocol::time::Micros`] as its `u64` microsecond count.
pub(crate) mod micros {
    use lightspeed_protocol::time::Micros;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &Micros, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.0)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Micros, D::Error> {
        u64::deserialize(d).map(Micros)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, U64Deserializer};

    #[test]
    fn reads_microsecond_integers() {
        let d: U64Deserializer<Error> = 20_000u64.into_deserializer();
        assert_eq!(
            super::duration::deserialize(d),
            Ok(Duration::from_millis(20))
        );
        let d: U64Deserializer<Error> = 7u64.into_deserializer();
        assert_eq!(
            super::micros::deserialize(d),
            Ok(lightspeed_protocol::time::Micros(7))
        );
    }

    #[test]
    fn deserializes_unit_suffixed_names_with_defaults_and_rejects_unknown_fields() {
        use serde::Deserialize;
        use serde::de::value::{Error, MapDeserializer};
        let from = |entries: Vec<(&'static str, u64)>| {
            crate::link::LinkConfig::deserialize(MapDeserializer::<_, Error>::new(
                entries.into_iter(),
            ))
        };
        let c = from(vec![("delay_us", 20_000), ("queue_limit_bytes", 1_000)]).unwrap();
        assert_eq!(c.delay, Duration::from_millis(20));
        assert_eq!(c.queue_limit_bytes, 1_000);
        assert_eq!(
            crate::link::LinkConfig {
                delay: Duration::ZERO,
                queue_limit_bytes: crate::link::LinkConfig::default().queue_limit_bytes,
                ..c
            },
            crate::link::LinkConfig::default()
        );
        assert!(from(vec![("delay", 20_000)]).is_err());
    }
}

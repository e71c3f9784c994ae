//! Histograms in the HdrHistogram interchange encoding: V2, DEFLATE-compressed, base64 (the
//! `HISTF...` strings that HdrHistogram's own tools and libraries read), so that results from
//! different generators merge through their distributions and never by averaging percentiles.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};

/// Why an encoded histogram could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InterchangeError {
    /// Not base64.
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not a V2 (compressed or not) histogram.
    #[error("not an HdrHistogram V2 histogram: {0:?}")]
    Histogram(hdrhistogram::serialization::DeserializeError),
}

/// `histogram` as base64 of its V2 DEFLATE encoding.
pub fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("encoding a histogram into memory cannot fail");
    STANDARD.encode(bytes)
}

/// The histogram `text` encodes (V2, compressed or not, in base64), resizing itself as values
/// are added to it.
pub fn decode(text: &str) -> Result<Histogram<u64>, InterchangeError> {
    let bytes = STANDARD.decode(text.trim())?;
    let mut histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(InterchangeError::Histogram)?;
    histogram.auto(true);
    Ok(histogram)
}

/// `#[serde(with = "...")]` for a `Histogram<u64>` field.
pub(crate) mod serde_histogram {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        histogram: &Histogram<u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode(histogram))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::decode(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_the_round_trip_through_the_encoding() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for value in [1u64, 999, 1_000_000, 1_234_567, 59_000_000_000] {
            histogram.record_n(value, value % 7 + 1).unwrap();
        }
        let text = encode(&histogram);
        assert!(text.starts_with("HISTF"), "V2 DEFLATE in base64: {text}");
        let back = decode(&text).expect("decodes");
        assert_eq!(back, histogram);
        assert!(matches!(
            decode("not base64!"),
            Err(InterchangeError::Base64(_))
        ));
        assert!(matches!(
            decode("AAAA"),
            Err(InterchangeError::Histogram(_))
        ));
    }
}

//! Request IDs and STS SourceIdentity values.

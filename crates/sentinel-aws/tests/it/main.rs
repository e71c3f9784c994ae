//! The integration tests of `sentinel-aws`, in one binary: one module per area.

mod moto_dynamodb;
mod moto_sns;
mod moto_ssm;
mod moto_sts;

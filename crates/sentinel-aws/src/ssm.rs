//! Policies stored in SSM Parameter Store.

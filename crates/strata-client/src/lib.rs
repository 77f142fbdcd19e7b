//! strata-client

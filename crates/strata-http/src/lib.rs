//! strata-http

//! strata-meta

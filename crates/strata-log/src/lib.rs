//! strata-log

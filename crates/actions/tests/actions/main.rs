//! Actions tests.

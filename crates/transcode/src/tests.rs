//! Unit tests for the transcoder.

//! The google.api.http path template language: parser and matcher.
//! (Stub: to be implemented.)

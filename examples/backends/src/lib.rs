//! Example gRPC backends for `switchboard demo`, the tests and the benchmarks.
//! (Stub: to be implemented.)

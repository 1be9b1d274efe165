//! Placeholder until the Python backend test lands.

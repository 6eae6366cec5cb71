//! Lazy, seeded arrival generation (in progress).

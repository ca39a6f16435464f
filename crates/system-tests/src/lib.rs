//! Empty: this package only holds tests (see `tests/`).

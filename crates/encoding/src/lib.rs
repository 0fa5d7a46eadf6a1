//! Byte encodings of SQL values: order-preserving keys and a compact value codec.
//!
//! tessera stores rows in an ordered key-value store. A row's primary key columns become the
//! key, and its other columns the value:
//!
//! ```text
//!   table/index prefix │ key datum │ key datum │ …      →   row of value datums
//!   (storage layer)    │  crate::key (memcmp order)  │       crate::value (lossless)
//! ```
//!
//! * [`key`] encodes [`Datum`]s so that comparing the bytes compares the values (PostgreSQL
//!   semantics, [`datum::compare`]), in either [`key::Direction`], and so that columns
//!   concatenate into tuple keys. Decoding returns canonical values: keys do not keep what
//!   comparison ignores (a decimal's scale, the sign of `-0.0`).
//! * [`value`] encodes datums and rows compactly and losslessly, in no particular order.
//! * [`decimal`] is the arbitrary-precision `NUMERIC` value, [`datum`] the SQL value type
//!   and its comparison, [`error`] the [`DecodeError`] every decoder returns on bad bytes.
//!
//! The crate has no dependencies and sits at the bottom of the dependency graph: storage, KV,
//! transactions and SQL all build on it. `docs/encoding.md` describes every byte.
//!
//! HAZARD: both encodings are persistent formats. Changing how an existing type is written
//! reorders or corrupts stored data.

pub mod datum;
pub mod decimal;
pub mod error;
pub mod key;
pub mod value;

pub use datum::Datum;
pub use decimal::Decimal;
pub use error::DecodeError;
pub use key::Direction;

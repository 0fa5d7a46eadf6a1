//! SQL errors: every error a client can see carries its PostgreSQL SQLSTATE.
//!
//! The codes are PostgreSQL's (Appendix A of its manual); the constants below are the ones
//! tessera raises. KV errors are mapped here: retryable transaction errors become 40001
//! (serialization failure), so clients retry them as they do with PostgreSQL.

use std::fmt;

use tessera_api::error::KvError;

/// A five-character SQLSTATE code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SqlState(pub &'static str);

impl SqlState {
    /// 42601 syntax_error
    pub const SYNTAX_ERROR: SqlState = SqlState("42601");
    /// 42P01 undefined_table
    pub const UNDEFINED_TABLE: SqlState = SqlState("42P01");
    /// 42703 undefined_column
    pub const UNDEFINED_COLUMN: SqlState = SqlState("42703");
    /// 42883 undefined_function
    pub const UNDEFINED_FUNCTION: SqlState = SqlState("42883");
    /// 42P07 duplicate_table
    pub const DUPLICATE_TABLE: SqlState = SqlState("42P07");
    /// 42701 duplicate_column
    pub const DUPLICATE_COLUMN: SqlState = SqlState("42701");
    /// 42702 ambiguous_column
    pub const AMBIGUOUS_COLUMN: SqlState = SqlState("42702");
    /// 42804 datatype_mismatch
    pub const DATATYPE_MISMATCH: SqlState = SqlState("42804");
    /// 42883 / 42725 are function errors; 42846 cannot_coerce
    pub const CANNOT_COERCE: SqlState = SqlState("42846");
    /// 42P18 indeterminate_datatype
    pub const INDETERMINATE_DATATYPE: SqlState = SqlState("42P18");
    /// 42803 grouping_error
    pub const GROUPING_ERROR: SqlState = SqlState("42803");
    /// 42P10 invalid_column_reference
    pub const INVALID_COLUMN_REFERENCE: SqlState = SqlState("42P10");
    /// 3D000 invalid_catalog_name (unknown database)
    pub const INVALID_CATALOG_NAME: SqlState = SqlState("3D000");
    /// 23505 unique_violation
    pub const UNIQUE_VIOLATION: SqlState = SqlState("23505");
    /// 23514 check_violation
    pub const CHECK_VIOLATION: SqlState = SqlState("23514");
    /// 23503 foreign_key_violation
    pub const FOREIGN_KEY_VIOLATION: SqlState = SqlState("23503");
    /// 42704 undefined_object
    pub const UNDEFINED_OBJECT: SqlState = SqlState("42704");
    /// 2BP01 dependent_objects_still_exist
    pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");
    /// 42830 invalid_foreign_key
    pub const INVALID_FOREIGN_KEY: SqlState = SqlState("42830");
    /// 23502 not_null_violation
    pub const NOT_NULL_VIOLATION: SqlState = SqlState("23502");
    /// 22012 division_by_zero
    pub const DIVISION_BY_ZERO: SqlState = SqlState("22012");
    /// 22001 string_data_right_truncation
    pub const STRING_DATA_RIGHT_TRUNCATION: SqlState = SqlState("22001");
    /// 22003 numeric_value_out_of_range
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState("22003");
    /// 22P02 invalid_text_representation
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState("22P02");
    /// 22023 invalid_parameter_value
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    /// 08P01 protocol_violation
    pub const PROTOCOL_VIOLATION: SqlState = SqlState("08P01");
    /// 0A000 feature_not_supported
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    /// lock_not_available: a row lock asked for with NOWAIT is held.
    pub const LOCK_NOT_AVAILABLE: SqlState = SqlState("55P03");
    /// 25P02 in_failed_sql_transaction
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState("25P02");
    /// 57014 query_canceled
    pub const QUERY_CANCELED: SqlState = SqlState("57014");
    /// 26000 invalid_sql_statement_name
    pub const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState("26000");
    /// 42P05 duplicate_prepared_statement
    pub const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState("42P05");
    /// 25P01 no_active_sql_transaction
    pub const NO_ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25P01");
    /// 3B001 invalid_savepoint_specification
    pub const INVALID_SAVEPOINT_SPECIFICATION: SqlState = SqlState("3B001");
    /// 25001 active_sql_transaction
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25001");
    /// 40001 serialization_failure
    pub const SERIALIZATION_FAILURE: SqlState = SqlState("40001");
    /// 54000 program_limit_exceeded
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState("54000");
    /// 58030 io_error
    pub const IO_ERROR: SqlState = SqlState("58030");
    /// XX001 data_corrupted
    pub const DATA_CORRUPTED: SqlState = SqlState("XX001");
    /// XX000 internal_error
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");

    /// The code as text.
    pub fn code(self) -> &'static str {
        self.0
    }
}

/// An error returned to a SQL client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// The SQLSTATE.
    pub state: SqlState,
    /// The primary message, as PostgreSQL words it where tessera has the same error.
    pub message: String,
    /// 1-based character position in the statement text, when known (syntax errors).
    pub position: Option<usize>,
}

impl SqlError {
    /// Whether a column reference failed for want of the column (42703) or of the table
    /// it names (42P01) in the scope it was looked up in: a wider scope may have it.
    pub fn is_unresolved_name(&self) -> bool {
        self.state == SqlState::UNDEFINED_COLUMN || self.state == SqlState::UNDEFINED_TABLE
    }

    /// An error with a code and a message.
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        SqlError {
            state,
            message: message.into(),
            position: None,
        }
    }

    /// 0A000 for something tessera does not support yet.
    pub fn unsupported(what: impl fmt::Display) -> Self {
        SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("{what} is not supported"),
        )
    }

    /// XX000 for a bug.
    pub fn internal(what: impl fmt::Display) -> Self {
        SqlError::new(SqlState::INTERNAL_ERROR, format!("internal error: {what}"))
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.state.0)
    }
}

impl std::error::Error for SqlError {}

impl From<KvError> for SqlError {
    fn from(e: KvError) -> Self {
        let state = match &e {
            e if e.is_retryable() => SqlState::SERIALIZATION_FAILURE,
            KvError::KeyTooLarge(_) | KvError::ValueTooLarge(_) => SqlState::PROGRAM_LIMIT_EXCEEDED,
            KvError::Corruption(_) => SqlState::DATA_CORRUPTED,
            // A lock held by a live transaction reaches SQL only under NOWAIT.
            KvError::WriteIntent { .. } => SqlState::LOCK_NOT_AVAILABLE,
            KvError::Storage(_) => SqlState::IO_ERROR,
            _ => SqlState::INTERNAL_ERROR,
        };
        let message = if state == SqlState::SERIALIZATION_FAILURE {
            format!("restart transaction: {e}")
        } else if state == SqlState::LOCK_NOT_AVAILABLE {
            format!("could not obtain lock on row: {e}")
        } else {
            e.to_string()
        };
        SqlError::new(state, message)
    }
}

/// Shorthand for SQL results.
pub type SqlResult<T> = Result<T, SqlError>;

//! The statement loop over sqlparser, with the PostgreSQL syntax sqlparser's PostgreSQL
//! dialect does not parse: `VACUUM` and `ANALYZE` in PostgreSQL's grammar (sqlparser
//! knows Redshift's), and PostgreSQL booleans (`on`, `off`, `1`, `0`, `yes`, `no`) as the
//! values of the boolean COPY options (`COPY t FROM STDIN WITH (FREEZE ON)`, which pgbench
//! sends).
//!
//! The loop is the one `Parser::parse_statements` runs (statements separated by `;`), so a
//! string without these forms parses exactly as before. Each recognized form becomes the
//! sqlparser statement that carries what tessera needs:
//!
//! ```text
//!   VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE] [t [(cols)]]   → Statement::Vacuum
//!   VACUUM (option [value], …) [t [(cols)]]                    → Statement::Vacuum
//!   ANALYZE [VERBOSE] [t [(cols)]] / ANALYZE (option, …) …     → Statement::Analyze
//! ```
//!
//! A list of tables (`VACUUM a, b`) becomes one statement per table, so a simple query
//! answers one `VACUUM` tag per table (PostgreSQL answers one for the statement).

use sqlparser::ast::{Analyze, Ident, ObjectName, Statement, VacuumStatement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, TokenizerError, Word};

use crate::error::{SqlError, SqlState};

/// Why a string did not parse.
#[derive(Debug)]
pub enum ParseFailure {
    /// A syntax error from sqlparser (42601, with the position in its message).
    Syntax(ParserError),
    /// Well-formed, but refused with its own SQLSTATE (PostgreSQL raises these before
    /// running the statement, as `VACUUM t (col)` without ANALYZE: 0A000).
    Refused(SqlError),
}

impl From<ParserError> for ParseFailure {
    fn from(e: ParserError) -> Self {
        ParseFailure::Syntax(e)
    }
}

impl From<TokenizerError> for ParseFailure {
    fn from(e: TokenizerError) -> Self {
        ParseFailure::Syntax(e.into())
    }
}

/// The options `VACUUM ( … )` accepts in PostgreSQL 15.
const VACUUM_OPTIONS: [&str; 11] = [
    "full",
    "freeze",
    "verbose",
    "analyze",
    "analyse",
    "disable_page_skipping",
    "skip_locked",
    "index_cleanup",
    "process_toast",
    "truncate",
    "parallel",
];

/// The options `ANALYZE ( … )` accepts in PostgreSQL 15.
const ANALYZE_OPTIONS: [&str; 2] = ["verbose", "skip_locked"];

/// Parses a string of statements separated by `;`.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>, ParseFailure> {
    let dialect = PostgreSqlDialect {};
    let mut tokens = Tokenizer::new(&dialect, sql).tokenize_with_location()?;
    copy_booleans(&mut tokens);
    users_as_roles(&mut tokens);
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let mut statements = Vec::new();
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        let next = parser.peek_token();
        if next.token == Token::EOF {
            break;
        }
        match &next.token {
            Token::Word(w) if w.keyword == Keyword::VACUUM => {
                parser.next_token();
                statements.extend(maintenance(&mut parser, true)?);
            }
            Token::Word(w) if w.keyword == Keyword::ANALYZE || is_word(w, "analyse") => {
                parser.next_token();
                statements.extend(maintenance(&mut parser, false)?);
            }
            _ => statements.push(parser.parse_statement()?),
        }
        let after = parser.peek_token();
        if !matches!(after.token, Token::SemiColon | Token::EOF) {
            return Ok(parser.expected("end of statement", after)?);
        }
    }
    Ok(statements)
}

fn is_word(w: &Word, text: &str) -> bool {
    w.quote_style.is_none() && w.value.eq_ignore_ascii_case(text)
}

/// The body of VACUUM (`vacuum`) or ANALYZE, after its keyword: one statement per table
/// (one with no table for the whole database).
fn maintenance(parser: &mut Parser, vacuum: bool) -> Result<Vec<Statement>, ParseFailure> {
    let mut full = false;
    let mut analyze = !vacuum;
    if parser.consume_token(&Token::LParen) {
        loop {
            let tok = parser.next_token();
            let name = match &tok.token {
                Token::Word(w) => w.value.to_lowercase(),
                _ => return Ok(parser.expected("an option name", tok)?),
            };
            let known: &[&str] = if vacuum {
                &VACUUM_OPTIONS
            } else {
                &ANALYZE_OPTIONS
            };
            if !known.contains(&name.as_str()) {
                let what = if vacuum { "VACUUM" } else { "ANALYZE" };
                return Err(ParserError::ParserError(format!(
                    "unrecognized {what} option \"{name}\""
                ))
                .into());
            }
            // An optional value: a boolean, a number or a word (INDEX_CLEANUP AUTO).
            let value = parser.peek_token();
            let mut on = true;
            match &value.token {
                Token::Comma | Token::RParen if name == "parallel" => {
                    return Err(ParserError::ParserError(
                        "parallel option requires a value between 0 and 1024".into(),
                    )
                    .into());
                }
                Token::Word(w) => {
                    on = !matches!(w.value.to_lowercase().as_str(), "off" | "false" | "no");
                    parser.next_token();
                }
                Token::Number(n, _) => {
                    on = n != "0";
                    parser.next_token();
                }
                Token::SingleQuotedString(_) => {
                    parser.next_token();
                }
                _ => {}
            }
            match name.as_str() {
                "full" => full = on,
                "analyze" | "analyse" if vacuum => analyze = on,
                _ => {}
            }
            if parser.consume_token(&Token::Comma) {
                continue;
            }
            parser.expect_token(&Token::RParen)?;
            break;
        }
    } else {
        // The unparenthesized options, in PostgreSQL's fixed order.
        let words: &[&str] = if vacuum {
            &["full", "freeze", "verbose", "analyze"]
        } else {
            &["verbose"]
        };
        for word in words {
            let next = parser.peek_token();
            let matched = match &next.token {
                Token::Word(w) => is_word(w, word) || (*word == "analyze" && is_word(w, "analyse")),
                _ => false,
            };
            if matched {
                parser.next_token();
                match *word {
                    "full" => full = true,
                    "analyze" => analyze = true,
                    _ => {}
                }
            }
        }
    }
    let mut tables: Vec<(ObjectName, Vec<Ident>)> = Vec::new();
    if !matches!(parser.peek_token().token, Token::SemiColon | Token::EOF) {
        loop {
            let name = parser.parse_object_name(false)?;
            let mut columns = Vec::new();
            if parser.consume_token(&Token::LParen) {
                loop {
                    columns.push(parser.parse_identifier()?);
                    if !parser.consume_token(&Token::Comma) {
                        break;
                    }
                }
                parser.expect_token(&Token::RParen)?;
            }
            tables.push((name, columns));
            if !parser.consume_token(&Token::Comma) {
                break;
            }
        }
    }
    let statement = |table: Option<(ObjectName, Vec<Ident>)>| {
        let (table_name, columns) = match table {
            Some((n, c)) => (Some(n), c),
            None => (None, Vec::new()),
        };
        if vacuum {
            // VACUUM's statement has no column list: the columns only name what ANALYZE
            // would sample, and tessera keeps no statistics (they are not checked).
            Statement::Vacuum(VacuumStatement {
                full,
                sort_only: false,
                delete_only: false,
                reindex: false,
                recluster: false,
                table_name,
                threshold: None,
                boost: false,
            })
        } else {
            Statement::Analyze(Analyze {
                table_name,
                partitions: None,
                for_columns: false,
                columns,
                cache_metadata: false,
                noscan: false,
                compute_statistics: false,
                has_table_keyword: false,
            })
        }
    };
    if !analyze && tables.iter().any(|(_, c)| !c.is_empty()) {
        return Err(ParseFailure::Refused(SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "ANALYZE option must be specified when a column list is provided",
        )));
    }
    if tables.is_empty() {
        return Ok(vec![statement(None)]);
    }
    Ok(tables.into_iter().map(|t| statement(Some(t))).collect())
}

/// `CREATE USER` and `ALTER USER` as `CREATE ROLE` and `ALTER ROLE`, which they are in
/// PostgreSQL (sqlparser parses other dialects' `CREATE USER`). Roles may all log in, so
/// USER's implied LOGIN changes nothing.
fn users_as_roles(tokens: &mut [TokenWithSpan]) {
    let words: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    for pair in words.windows(2) {
        let verb = matches!(&tokens[pair[0]].token,
            Token::Word(w) if matches!(w.keyword, Keyword::CREATE | Keyword::ALTER));
        let user = matches!(&tokens[pair[1]].token,
            Token::Word(w) if w.keyword == Keyword::USER && w.quote_style.is_none());
        if verb && user {
            tokens[pair[1]].token = Token::Word(Word {
                value: "ROLE".into(),
                quote_style: None,
                keyword: Keyword::ROLE,
            });
        }
    }
}

/// In a COPY statement, the value of a boolean option (`FREEZE on`, `HEADER 1`) as the
/// `TRUE`/`FALSE` keyword sqlparser expects.
fn copy_booleans(tokens: &mut [TokenWithSpan]) {
    let mut in_copy = false;
    let mut at_start = true;
    for i in 0..tokens.len() {
        match &tokens[i].token {
            Token::Whitespace(_) => continue,
            Token::SemiColon => {
                in_copy = false;
                at_start = true;
                continue;
            }
            Token::Word(w) if at_start => in_copy = w.keyword == Keyword::COPY,
            _ => {}
        }
        at_start = false;
        if !in_copy {
            continue;
        }
        let is_bool_option = matches!(&tokens[i].token,
            Token::Word(w) if matches!(w.keyword, Keyword::FREEZE | Keyword::HEADER));
        if !is_bool_option {
            continue;
        }
        let Some(j) =
            (i + 1..tokens.len()).find(|&j| !matches!(tokens[j].token, Token::Whitespace(_)))
        else {
            continue;
        };
        let value = match &tokens[j].token {
            Token::Word(w) if w.quote_style.is_none() => match w.value.to_lowercase().as_str() {
                "on" | "yes" => Some(true),
                "off" | "no" => Some(false),
                _ => None,
            },
            Token::Number(n, _) if n == "1" => Some(true),
            Token::Number(n, _) if n == "0" => Some(false),
            _ => None,
        };
        if let Some(v) = value {
            tokens[j].token = Token::make_keyword(if v { "TRUE" } else { "FALSE" });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacuum_forms() {
        let s = parse_statements("vacuum analyze pgbench_branches").expect("parses");
        assert!(matches!(&s[..], [Statement::Vacuum(v)] if v.table_name.is_some()));
        let s = parse_statements("VACUUM (ANALYZE, INDEX_CLEANUP off) a, b (x); select 1")
            .expect("parses");
        assert_eq!(s.len(), 3);
        let s = parse_statements("analyze").expect("parses");
        assert!(matches!(&s[..], [Statement::Analyze(a)] if a.table_name.is_none()));
        assert!(parse_statements("vacuum (bogus) t").is_err());
        assert!(parse_statements("vacuum t u").is_err());
    }

    #[test]
    fn create_and_alter_user_are_roles() {
        let s = parse_statements("CREATE USER u WITH PASSWORD 'p'; ALTER USER u PASSWORD NULL")
            .expect("parses");
        assert!(matches!(s[0], Statement::CreateRole(_)), "{}", s[0]);
        assert!(matches!(s[1], Statement::AlterRole { .. }), "{}", s[1]);
    }

    #[test]
    fn copy_booleans_become_keywords() {
        let s = parse_statements("copy t from stdin with (freeze on)").expect("parses");
        assert!(s[0].to_string().contains("FREEZE"), "{}", s[0]);
        let s = parse_statements("copy t from stdin with (format csv, header 1)").expect("parses");
        assert_eq!(s.len(), 1);
    }
}

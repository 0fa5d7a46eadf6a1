//! The statement loop over sqlparser, with the PostgreSQL syntax sqlparser's PostgreSQL
//! dialect does not parse: `VACUUM` and `ANALYZE` in PostgreSQL's grammar (sqlparser
//! knows Redshift's), and PostgreSQL booleans (`on`, `off`, `1`, `0`, `yes`, `no`) as the
//! values of the boolean COPY options (`COPY t FROM STDIN WITH (FREEZE ON)`, which pgbench
//! sends), and the row-lock strengths `FOR NO KEY UPDATE` / `FOR KEY SHARE` (read as
//! `FOR UPDATE` / `FOR SHARE`) and their `OF a, b` lists (one clause per name).
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
//!
//! Subscripted assignment targets (`UPDATE t SET a[2] = 5`, `… DO UPDATE SET a[i] = …`,
//! `INSERT INTO t (a[1]) …`), which sqlparser's assignment and column-list grammar lacks:
//! before parsing, each `a[e]…` in a target position becomes one marker identifier and its
//! subscripts are parsed as expressions on the side; after parsing, the marker in the
//! statement becomes the column name with the subscripts as the arguments of an
//! [`ObjectNamePart::Function`] (read back by [`subscripted_target`]):
//!
//! ```text
//!   SET a[i + 1] = v   ──tokens──►  SET "<NUL>0" = v   ──statement──►  target a(i + 1)
//!                                   (marker 0: NUL, then the target's number)
//! ```
//!
//! A slice target (`a[1:2]`) is 0A000.

use sqlparser::ast::{
    Analyze, Assignment, AssignmentTarget, Expr, FunctionArg, FunctionArgExpr, Ident, ObjectName,
    ObjectNamePart, ObjectNamePartFunction, OnConflictAction, OnInsert, SetExpr, Statement,
    VacuumStatement,
};
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
    let tokens = Tokenizer::new(&dialect, sql).tokenize_with_location()?;
    let (mut tokens, mut targets) = subscripted_targets(tokens)?;
    copy_booleans(&mut tokens);
    users_as_roles(&mut tokens);
    row_lock_strengths(&mut tokens);
    row_lock_of_lists(&mut tokens);
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
    if !targets.is_empty() {
        for s in &mut statements {
            attach_subscripts(s, &mut targets);
        }
        if targets.iter().any(Option::is_some) {
            return Err(ParseFailure::Refused(SqlError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "a subscripted column here is not supported",
            )));
        }
    }
    Ok(statements)
}

/// The first character of a marker identifier (see the module docs); a client's
/// identifier cannot hold a NUL.
const SUBSCRIPT_MARKER: char = '\0';

/// A target `a[e]…` taken out of the tokens: the column and its parsed subscripts.
type SubscriptedTarget = (Ident, Vec<Expr>);

/// The column and subscripts of a target that [`parse_statements`] read as `a[e]…`.
pub fn subscripted_target(name: &ObjectName) -> Option<(&Ident, Vec<&Expr>)> {
    let [ObjectNamePart::Function(f)] = name.0.as_slice() else {
        return None;
    };
    let subscripts = f
        .args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect();
    Some((&f.name, subscripts))
}

/// Replaces each subscripted target in an UPDATE's SET list (also `DO UPDATE SET` of an
/// INSERT) or an INSERT's column list with a marker identifier; returns the tokens and the
/// targets, by marker number.
fn subscripted_targets(
    tokens: Vec<TokenWithSpan>,
) -> Result<(Vec<TokenWithSpan>, Vec<Option<SubscriptedTarget>>), ParseFailure> {
    let significant = |from: usize| {
        (from..tokens.len()).find(|&j| !matches!(tokens[j].token, Token::Whitespace(_)))
    };
    let mut out = Vec::with_capacity(tokens.len());
    let mut targets = Vec::new();
    let mut first: Option<Keyword> = None;
    let (mut depth, mut in_set, mut after_into) = (0usize, false, false);
    let mut column_list: Option<usize> = None;
    let mut expect_target = false;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i].token;
        if matches!(token, Token::Whitespace(_)) {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        if let (true, Token::Word(w)) = (expect_target, token) {
            if let Some(end) = subscripts_end(&tokens, i) {
                let mut subscripts = Vec::new();
                let mut open = significant(i + 1);
                while let Some(j) = open.filter(|&j| j < end) {
                    let close = matching_bracket(&tokens, j).unwrap_or(end);
                    subscripts.push(subscript_expr(&tokens[j + 1..close])?);
                    open = significant(close + 1);
                }
                out.push(TokenWithSpan {
                    token: Token::Word(Word {
                        value: format!("{SUBSCRIPT_MARKER}{}", targets.len()),
                        quote_style: Some('"'),
                        keyword: Keyword::NoKeyword,
                    }),
                    span: tokens[i].span,
                });
                let column = Ident {
                    value: w.value.clone(),
                    quote_style: w.quote_style,
                    span: tokens[i].span,
                };
                targets.push(Some((column, subscripts)));
                expect_target = false;
                i = end;
                continue;
            }
        }
        expect_target = false;
        match token {
            Token::SemiColon => {
                (first, depth, in_set, after_into) = (None, 0, false, false);
                column_list = None;
            }
            Token::LParen | Token::LBracket => {
                if after_into && depth == 0 && *token == Token::LParen {
                    column_list = Some(1);
                    expect_target = true;
                }
                after_into = false;
                depth += 1;
            }
            Token::RParen | Token::RBracket => {
                if column_list == Some(depth) {
                    column_list = None;
                }
                depth = depth.saturating_sub(1);
            }
            Token::Comma => expect_target = (in_set && depth == 0) || column_list == Some(depth),
            Token::Word(w) => {
                let writes = matches!(
                    first,
                    Some(
                        Keyword::UPDATE
                            | Keyword::INSERT
                            | Keyword::WITH
                            | Keyword::PREPARE
                            | Keyword::EXPLAIN
                    )
                );
                if first.is_none() {
                    first = Some(w.keyword);
                } else if depth == 0 && writes {
                    match w.keyword {
                        Keyword::SET => (in_set, expect_target) = (true, true),
                        Keyword::FROM | Keyword::WHERE | Keyword::RETURNING => in_set = false,
                        Keyword::INTO => after_into = true,
                        Keyword::VALUES
                        | Keyword::SELECT
                        | Keyword::DEFAULT
                        | Keyword::OVERRIDING
                        | Keyword::ON => after_into = false,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    Ok((out, targets))
}

/// For a word at `at` followed by `[…]` groups: the index after the last group.
fn subscripts_end(tokens: &[TokenWithSpan], at: usize) -> Option<usize> {
    let next = |from: usize| {
        (from..tokens.len()).find(|&j| !matches!(tokens[j].token, Token::Whitespace(_)))
    };
    let mut end = None;
    let mut j = next(at + 1);
    while let Some(open) = j.filter(|&j| tokens[j].token == Token::LBracket) {
        let close = matching_bracket(tokens, open)?;
        end = Some(close + 1);
        j = next(close + 1);
    }
    end
}

/// The index of the `]` that closes the `[` at `open`.
fn matching_bracket(tokens: &[TokenWithSpan], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        match t.token {
            Token::LBracket | Token::LParen => depth += 1,
            Token::RBracket | Token::RParen => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (t.token == Token::RBracket).then_some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// One subscript's tokens as an expression; a slice (`lo:hi`) is 0A000.
fn subscript_expr(tokens: &[TokenWithSpan]) -> Result<Expr, ParseFailure> {
    let mut depth = 0usize;
    for t in tokens {
        match &t.token {
            Token::LBracket | Token::LParen => depth += 1,
            Token::RBracket | Token::RParen => depth = depth.saturating_sub(1),
            Token::Colon if depth == 0 => return Err(slice_assignment()),
            Token::Placeholder(p) if depth == 0 && p.starts_with(':') => {
                return Err(slice_assignment())
            }
            _ => {}
        }
    }
    let mut parser = Parser::new(&PostgreSqlDialect {}).with_tokens_with_locations(tokens.to_vec());
    let e = parser.parse_expr()?;
    let after = parser.peek_token();
    if after.token != Token::EOF {
        return Ok(parser.expected("]", after)?);
    }
    Ok(e)
}

fn slice_assignment() -> ParseFailure {
    ParseFailure::Refused(SqlError::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        "assignment to an array slice is not supported",
    ))
}

/// Puts the targets taken out by [`subscripted_targets`] back into `s` (taking each from
/// `targets`).
fn attach_subscripts(s: &mut Statement, targets: &mut [Option<SubscriptedTarget>]) {
    let mut fix = |name: &mut ObjectName| {
        let [ObjectNamePart::Identifier(id)] = name.0.as_slice() else {
            return;
        };
        let Some(n) = id.value.strip_prefix(SUBSCRIPT_MARKER) else {
            return;
        };
        let Some((column, subscripts)) = n
            .parse::<usize>()
            .ok()
            .and_then(|n| targets.get_mut(n))
            .and_then(Option::take)
        else {
            return;
        };
        name.0 = vec![ObjectNamePart::Function(ObjectNamePartFunction {
            name: column,
            args: subscripts
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
        })];
    };
    let fix_assignments = |assignments: &mut [Assignment], fix: &mut dyn FnMut(&mut ObjectName)| {
        for a in assignments {
            if let AssignmentTarget::ColumnName(n) = &mut a.target {
                fix(n);
            }
        }
    };
    match s {
        Statement::Update(u) => fix_assignments(&mut u.assignments, &mut fix),
        Statement::Insert(ins) => {
            ins.columns.iter_mut().for_each(&mut fix);
            if let Some(OnInsert::OnConflict(c)) = &mut ins.on {
                if let OnConflictAction::DoUpdate(du) = &mut c.action {
                    fix_assignments(&mut du.assignments, &mut fix);
                }
            }
        }
        Statement::Prepare { statement, .. } | Statement::Explain { statement, .. } => {
            attach_subscripts(statement, targets)
        }
        Statement::Query(q) => {
            if let SetExpr::Update(inner) | SetExpr::Insert(inner) = q.body.as_mut() {
                attach_subscripts(inner, targets);
            }
        }
        _ => {}
    }
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
            // would sample, and VACUUM collects no statistics (they are not checked).
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

/// `FOR NO KEY UPDATE` and `FOR KEY SHARE`, PostgreSQL's weaker row locks, as `FOR UPDATE`
/// and `FOR SHARE` (sqlparser knows only those two). tessera takes an exclusive lock for
/// every strength, so a weaker request is served by a stronger lock: it may wait where
/// PostgreSQL would not (a `FOR KEY SHARE` beside a `FOR NO KEY UPDATE`), never the reverse.
/// The dropped words become spaces, so positions in error messages stay right.
fn row_lock_strengths(tokens: &mut [TokenWithSpan]) {
    let words: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    let word_at = |tokens: &[TokenWithSpan], k: usize, text: &str| {
        words
            .get(k)
            .is_some_and(|&i| matches!(&tokens[i].token, Token::Word(w) if is_word(w, text)))
    };
    for k in 0..words.len() {
        if !word_at(tokens, k, "for") {
            continue;
        }
        let dropped = if word_at(tokens, k + 1, "no")
            && word_at(tokens, k + 2, "key")
            && word_at(tokens, k + 3, "update")
        {
            &words[k + 1..k + 3]
        } else if word_at(tokens, k + 1, "key") && word_at(tokens, k + 2, "share") {
            &words[k + 1..k + 2]
        } else {
            continue;
        };
        for &i in dropped {
            tokens[i].token = Token::Whitespace(sqlparser::tokenizer::Whitespace::Space);
        }
    }
}

/// `FOR UPDATE OF a, b` as `FOR UPDATE OF a FOR UPDATE OF b` (sqlparser takes one name after
/// `OF`; PostgreSQL a list, with the same meaning as one clause per name).
fn row_lock_of_lists(tokens: &mut Vec<TokenWithSpan>) {
    let word = |t: &Token, text: &str| matches!(t, Token::Word(w) if is_word(w, text));
    let mut i = 0;
    // The strength of the clause whose OF list is being read, and whether a name (part) is
    // due next (after OF, a comma or a period) or a period or comma (after a name part).
    let mut strength: Option<Token> = None;
    let mut name_due = false;
    let mut last_words: Vec<usize> = Vec::new();
    while i < tokens.len() {
        let t = tokens[i].token.clone();
        if matches!(t, Token::Whitespace(_)) {
            i += 1;
            continue;
        }
        if strength.is_some() {
            let next_due = match &t {
                Token::Word(_) if name_due => Some(false),
                Token::Period if !name_due => Some(true),
                _ => None,
            };
            if let Some(due) = next_due {
                name_due = due;
                i += 1;
                continue;
            }
        }
        if let (Some(st), Token::Comma, false) = (&strength, &t, name_due) {
            let span = tokens[i].span;
            let with = |token: Token| TokenWithSpan { token, span };
            let space = || with(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
            let for_word = Token::make_keyword("FOR");
            let of_word = Token::make_keyword("OF");
            let clause = [
                space(),
                with(for_word),
                space(),
                with(st.clone()),
                space(),
                with(of_word),
                space(),
            ];
            tokens.splice(i..=i, clause);
            i += 7;
            name_due = true;
            continue;
        }
        strength = None;
        last_words.push(i);
        let n = last_words.len();
        if n >= 3
            && word(&tokens[last_words[n - 3]].token, "for")
            && (word(&tokens[last_words[n - 2]].token, "update")
                || word(&tokens[last_words[n - 2]].token, "share"))
            && word(&t, "of")
        {
            strength = Some(tokens[last_words[n - 2]].token.clone());
            name_due = true;
        }
        i += 1;
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
    fn subscripted_targets_become_function_parts() {
        let s = parse_statements("update t set a[i + 1] = b[2], c = d[3] where e[4] = 1")
            .expect("parses");
        let Statement::Update(u) = &s[0] else {
            panic!("{}", s[0]);
        };
        let AssignmentTarget::ColumnName(first) = &u.assignments[0].target else {
            panic!("{}", s[0]);
        };
        let (column, subscripts) = subscripted_target(first).expect("subscripted");
        assert_eq!((column.value.as_str(), subscripts.len()), ("a", 1));
        assert_eq!(subscripts[0].to_string(), "i + 1");
        let AssignmentTarget::ColumnName(second) = &u.assignments[1].target else {
            panic!("{}", s[0]);
        };
        assert!(subscripted_target(second).is_none());
        let s = parse_statements(
            "insert into t (id, a[1][2]) values (1, 2) on conflict (id) do update set a[3] = 4",
        )
        .expect("parses");
        assert_eq!(s[0].to_string().matches("a(").count(), 2, "{}", s[0]);
        // Elsewhere a subscript is an expression, and SET a parameter.
        assert!(parse_statements("select a[1] from t; set x = 1").is_ok());
        assert!(matches!(
            parse_statements("update t set a[1:2] = '{1,2}'"),
            Err(ParseFailure::Refused(e)) if e.state == SqlState::FEATURE_NOT_SUPPORTED
        ));
    }

    #[test]
    fn copy_booleans_become_keywords() {
        let s = parse_statements("copy t from stdin with (freeze on)").expect("parses");
        assert!(s[0].to_string().contains("FREEZE"), "{}", s[0]);
        let s = parse_statements("copy t from stdin with (format csv, header 1)").expect("parses");
        assert_eq!(s.len(), 1);
    }
}

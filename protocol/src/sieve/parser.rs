//! RFC 5228 §8.2 grammar over the tokens: commands, arguments, tests, test lists and blocks,
//! into a generic tree that [`super::compile`] then checks command by command.

use super::lexer::{Tok, Token};
use super::{CompileError, Limits};

/// One argument of a command or test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    /// `:name`, lower-cased.
    Tag(String, usize),
    Number(u64, usize),
    /// A string or a string list; `list` tells whether it was written in brackets.
    Strings {
        values: Vec<String>,
        list: bool,
        at: usize,
    },
}

impl Arg {
    pub fn at(&self) -> usize {
        match self {
            Arg::Tag(_, at) | Arg::Number(_, at) => *at,
            Arg::Strings { at, .. } => *at,
        }
    }
}

/// A command or a test: name, arguments, tests (for commands: `if` conditions; for tests: the
/// test list of `allof`/`anyof`/`not`) and, for commands only, a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub name: String,
    pub at: usize,
    pub args: Vec<Arg>,
    pub tests: Vec<Node>,
    /// Whether the tests were written as a parenthesised list.
    pub test_list: bool,
    pub block: Option<Vec<Node>>,
}

pub(crate) struct Parser<'a> {
    src: &'a [u8],
    toks: &'a [Token],
    pos: usize,
    limits: &'a Limits,
    commands: usize,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a [u8], toks: &'a [Token], limits: &'a Limits) -> Self {
        Parser {
            src,
            toks,
            pos: 0,
            limits,
            commands: 0,
        }
    }

    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    fn err_here(&self, msg: impl Into<String>) -> CompileError {
        let at = self.peek().map_or(self.src.len(), |t| t.at);
        CompileError::at(self.src, at, msg)
    }

    fn unexpected(&self, wanted: &str) -> CompileError {
        match self.peek() {
            Some(t) => self.err_here(format!("expected {wanted}, found {}", t.kind.describe())),
            None => self.err_here(format!("expected {wanted}, found end of script")),
        }
    }

    fn is_punct(&self, c: u8) -> bool {
        matches!(self.peek(), Some(Token { kind: Tok::Punct(p), .. }) if *p == c)
    }

    fn expect_punct(&mut self, c: u8, wanted: &str) -> Result<(), CompileError> {
        if self.is_punct(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(wanted))
        }
    }

    /// commands = *command, until the end of the script (top level) or a `}` (in a block).
    pub fn commands(&mut self, depth: usize) -> Result<Vec<Node>, CompileError> {
        if depth > self.limits.max_depth {
            return Err(self.err_here(format!(
                "blocks nested deeper than {}",
                self.limits.max_depth
            )));
        }
        let mut out = Vec::new();
        while let Some(t) = self.peek() {
            if t.kind == Tok::Punct(b'}') {
                break;
            }
            out.push(self.command(depth)?);
        }
        Ok(out)
    }

    /// command = identifier arguments (";" / block)
    fn command(&mut self, depth: usize) -> Result<Node, CompileError> {
        let Some(Token {
            kind: Tok::Identifier(name),
            at,
        }) = self.peek()
        else {
            return Err(self.unexpected("a command"));
        };
        self.commands += 1;
        if self.commands > self.limits.max_commands {
            return Err(self.err_here(format!(
                "script has more than {} commands",
                self.limits.max_commands
            )));
        }
        self.pos += 1;
        let (args, tests, test_list) = self.arguments(depth)?;
        let block = if self.is_punct(b'{') {
            self.pos += 1;
            let body = self.commands(depth + 1)?;
            self.expect_punct(b'}', "\"}\"")?;
            Some(body)
        } else if self.is_punct(b';') {
            self.pos += 1;
            None
        } else {
            return Err(self.unexpected("\";\" or a block"));
        };
        Ok(Node {
            name: name.clone(),
            at: *at,
            args,
            tests,
            test_list,
            block,
        })
    }

    /// arguments = *argument [ test / test-list ]
    #[allow(clippy::type_complexity)]
    fn arguments(&mut self, depth: usize) -> Result<(Vec<Arg>, Vec<Node>, bool), CompileError> {
        let mut args = Vec::new();
        while let Some(t) = self.peek() {
            match &t.kind {
                Tok::Tag(name) => {
                    args.push(Arg::Tag(name.clone(), t.at));
                    self.pos += 1;
                }
                Tok::Number(n) => {
                    args.push(Arg::Number(*n, t.at));
                    self.pos += 1;
                }
                Tok::String(s) => {
                    args.push(Arg::Strings {
                        values: vec![s.clone()],
                        list: false,
                        at: t.at,
                    });
                    self.pos += 1;
                }
                Tok::Punct(b'[') => {
                    let at = t.at;
                    self.pos += 1;
                    let mut values = Vec::new();
                    loop {
                        match self.peek() {
                            Some(Token {
                                kind: Tok::String(s),
                                ..
                            }) => {
                                values.push(s.clone());
                                self.pos += 1;
                            }
                            _ => return Err(self.unexpected("a string")),
                        }
                        if self.is_punct(b',') {
                            self.pos += 1;
                        } else {
                            self.expect_punct(b']', "\",\" or \"]\"")?;
                            break;
                        }
                    }
                    args.push(Arg::Strings {
                        values,
                        list: true,
                        at,
                    });
                }
                _ => break,
            }
        }
        let mut tests = Vec::new();
        let mut test_list = false;
        if self.is_punct(b'(') {
            self.pos += 1;
            test_list = true;
            loop {
                tests.push(self.test(depth + 1)?);
                if self.is_punct(b',') {
                    self.pos += 1;
                } else {
                    self.expect_punct(b')', "\",\" or \")\"")?;
                    break;
                }
            }
        } else if matches!(
            self.peek(),
            Some(Token {
                kind: Tok::Identifier(_),
                ..
            })
        ) {
            tests.push(self.test(depth + 1)?);
        }
        Ok((args, tests, test_list))
    }

    /// test = identifier arguments
    fn test(&mut self, depth: usize) -> Result<Node, CompileError> {
        if depth > self.limits.max_depth {
            return Err(self.err_here(format!(
                "tests nested deeper than {}",
                self.limits.max_depth
            )));
        }
        let Some(Token {
            kind: Tok::Identifier(name),
            at,
        }) = self.peek()
        else {
            return Err(self.unexpected("a test"));
        };
        self.pos += 1;
        let (args, tests, test_list) = self.arguments(depth)?;
        Ok(Node {
            name: name.clone(),
            at: *at,
            args,
            tests,
            test_list,
            block: None,
        })
    }

    /// Where the next token starts (the end of the script when there is none).
    pub fn current_at(&self) -> usize {
        self.peek().map_or(self.src.len(), |t| t.at)
    }

    /// Whether every token was used.
    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }
}

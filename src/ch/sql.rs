//! A statement and its values kept apart until it is sent: the values travel as query parameters
//! (`{p0:String}`) on servers that have them, and as escaped literals on those that do not (18.16),
//! so no value is ever pasted into SQL text by hand.

use clickhouse::Client;
use clickhouse::query::Query;

/// A value a statement carries. A list stands for a parenthesized list of values, for `x IN ?`.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Str(String),
    U64(u64),
    I64(i64),
    U64s(Vec<u64>),
    Strs(Vec<String>),
}

/// One value of a statement, after lists are spread out.
enum Scalar<'a> {
    Str(&'a str),
    U64(u64),
    I64(i64),
}

impl Arg {
    fn scalars(&self) -> Vec<Scalar<'_>> {
        match self {
            Arg::Str(s) => vec![Scalar::Str(s)],
            Arg::U64(n) => vec![Scalar::U64(*n)],
            Arg::I64(n) => vec![Scalar::I64(*n)],
            Arg::U64s(v) => v.iter().map(|n| Scalar::U64(*n)).collect(),
            Arg::Strs(v) => v.iter().map(|s| Scalar::Str(s)).collect(),
        }
    }

    fn is_list(&self) -> bool {
        matches!(self, Arg::U64s(_) | Arg::Strs(_))
    }

    /// The ClickHouse type of its query parameter.
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Str(_) => "String",
            Arg::U64(_) => "UInt64",
            Arg::I64(_) => "Int64",
            Arg::U64s(_) => "Array(UInt64)",
            Arg::Strs(_) => "Array(String)",
        }
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Str(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Str(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Str(s.clone())
    }
}

impl From<u64> for Arg {
    fn from(n: u64) -> Arg {
        Arg::U64(n)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Arg {
        Arg::I64(n)
    }
}

impl From<Vec<u64>> for Arg {
    fn from(v: Vec<u64>) -> Arg {
        Arg::U64s(v)
    }
}

impl From<Vec<String>> for Arg {
    fn from(v: Vec<String>) -> Arg {
        Arg::Strs(v)
    }
}

/// SQL text with `?` where each value goes, in order, and the values. The text is the
/// program's own (identifiers in it are validated and quoted); values come from anywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Adds the value for the next `?`. A list must not be empty.
    pub fn arg(mut self, value: impl Into<Arg>) -> Sql {
        let value = value.into();
        debug_assert!(!value.is_list() || !value.scalars().is_empty());
        self.args.push(value);
        self
    }

    /// The text with a `?` for each scalar value (a list becomes a parenthesized list of them),
    /// and the scalar values in order, to be bound as literals.
    fn expand(&self) -> (String, Vec<Scalar<'_>>) {
        let mut out = String::with_capacity(self.text.len() + 16 * self.args.len());
        let mut values = Vec::new();
        let mut args = self.args.iter();
        for piece in self.text.split_inclusive('?') {
            let Some(before) = piece.strip_suffix('?') else {
                out.push_str(piece);
                continue;
            };
            out.push_str(before);
            let Some(arg) = args.next() else {
                out.push('?');
                continue;
            };
            let items: Vec<String> = arg
                .scalars()
                .into_iter()
                .map(|v| {
                    values.push(v);
                    "?".to_owned()
                })
                .collect();
            match arg.is_list() {
                true if items.is_empty() => out.push_str("(NULL)"),
                true => out.push_str(&format!("({})", items.join(", "))),
                false => out.push_str(&items.concat()),
            }
        }
        (out, values)
    }

    /// The text with each `?` as a typed parameter (a list as one `Array` parameter, so a long
    /// list is one form field of the HTTP request, not one per item), and the values in order.
    fn parameterized(&self) -> (String, Vec<&Arg>) {
        let mut out = String::with_capacity(self.text.len() + 16 * self.args.len());
        let mut values = Vec::new();
        let mut args = self.args.iter();
        for piece in self.text.split_inclusive('?') {
            let Some(before) = piece.strip_suffix('?') else {
                out.push_str(piece);
                continue;
            };
            out.push_str(before);
            match args.next() {
                None => out.push('?'),
                Some(arg) if arg.is_list() && arg.scalars().is_empty() => out.push_str("(NULL)"),
                Some(arg) => {
                    out.push_str(&format!("{{p{}:{}}}", values.len(), arg.type_name()));
                    values.push(arg);
                }
            }
        }
        (out, values)
    }

    /// A query for the client: with query parameters, or with the values bound as literals.
    pub(super) fn build(&self, client: &Client, parameters: bool) -> Query {
        if parameters {
            let (text, values) = self.parameterized();
            let mut q = client.query(&text);
            for (i, v) in values.iter().enumerate() {
                let name = format!("p{i}");
                q = match v {
                    Arg::Str(s) => q.param(&name, s),
                    Arg::U64(n) => q.param(&name, n),
                    Arg::I64(n) => q.param(&name, n),
                    Arg::U64s(list) => q.param(&name, list),
                    Arg::Strs(list) => q.param(&name, list),
                };
            }
            return q;
        }
        let (text, values) = self.expand();
        if values.is_empty() {
            return client.query_raw(&text);
        }
        values.iter().fold(client.query(&text), |q, v| match v {
            Scalar::Str(s) => q.bind(s),
            Scalar::U64(n) => q.bind(n),
            Scalar::I64(n) => q.bind(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_typed_parameters_in_order_and_a_list_one_array() {
        let sql = Sql::new("SELECT 1 FROM t WHERE a = ? AND b IN ? AND c = ? AND d NOT IN ?")
            .arg("x'y")
            .arg(vec![1u64, 2])
            .arg(7i64)
            .arg(vec!["p".to_owned()]);
        let (text, values) = sql.parameterized();
        assert_eq!(
            text,
            "SELECT 1 FROM t WHERE a = {p0:String} AND b IN {p1:Array(UInt64)} \
             AND c = {p2:Int64} AND d NOT IN {p3:Array(String)}"
        );
        assert_eq!(values.len(), 4);
        let (literal, values) = sql.expand();
        assert_eq!(
            literal,
            "SELECT 1 FROM t WHERE a = ? AND b IN (?, ?) AND c = ? AND d NOT IN (?)"
        );
        assert_eq!(values.len(), 5);
        assert_eq!(Sql::new("SELECT 1").parameterized().0, "SELECT 1");
    }
}

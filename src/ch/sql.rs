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

impl Scalar<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "String",
            Scalar::U64(_) => "UInt64",
            Scalar::I64(_) => "Int64",
        }
    }
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

    /// The text with each `?` replaced by what `render` makes of its value (a list becomes a
    /// parenthesized list of its items), and the scalar values in order.
    fn expand(
        &self,
        mut render: impl FnMut(usize, &Scalar) -> String,
    ) -> (String, Vec<Scalar<'_>>) {
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
                    let text = render(values.len(), &v);
                    values.push(v);
                    text
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

    /// A query for the client: with query parameters, or with the values bound as literals.
    pub(super) fn build(&self, client: &Client, parameters: bool) -> Query {
        if parameters {
            let (text, values) = self.expand(|i, v| format!("{{p{i}:{}}}", v.type_name()));
            let mut q = client.query(&text);
            for (i, v) in values.iter().enumerate() {
                let name = format!("p{i}");
                q = match v {
                    Scalar::Str(s) => q.param(&name, s),
                    Scalar::U64(n) => q.param(&name, n),
                    Scalar::I64(n) => q.param(&name, n),
                };
            }
            return q;
        }
        let (text, values) = self.expand(|_, _| "?".to_owned());
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

    fn parameterized(sql: &Sql) -> String {
        sql.expand(|i, v| format!("{{p{i}:{}}}", v.type_name())).0
    }

    #[test]
    fn values_become_typed_parameters_in_order() {
        let sql = Sql::new("SELECT 1 FROM t WHERE a = ? AND b IN ? AND c = ?")
            .arg("x'y")
            .arg(vec![1u64, 2])
            .arg(7i64);
        assert_eq!(
            parameterized(&sql),
            "SELECT 1 FROM t WHERE a = {p0:String} AND b IN ({p1:UInt64}, {p2:UInt64}) \
             AND c = {p3:Int64}"
        );
        let (literal, values) = sql.expand(|_, _| "?".to_owned());
        assert_eq!(
            literal,
            "SELECT 1 FROM t WHERE a = ? AND b IN (?, ?) AND c = ?"
        );
        assert_eq!(values.len(), 4);
        assert_eq!(parameterized(&Sql::new("SELECT 1")), "SELECT 1");
    }
}

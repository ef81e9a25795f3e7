//! The README documents what the code does.

/// Every variable the agent reads has a row in the README's table, with the same default and
/// meaning, in the same order; and the table has no row the code does not read.
#[test]
fn readme_configuration_table_matches_the_code() {
    let readme = include_str!("../../../README.md");
    let rows: Vec<(String, String, String)> = readme
        .lines()
        .filter(|line| line.starts_with("| `SW_"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let unquote = |cell: &str| cell.trim_matches('`').to_owned();
            (unquote(cells[0]), unquote(cells[1]), cells[2].to_owned())
        })
        .collect();
    let code: Vec<(String, String, String)> = rust2sky::config::env::variables()
        .iter()
        .map(|var| (var.name.into(), var.default.into(), var.meaning.into()))
        .collect();
    assert_eq!(rows, code);
}

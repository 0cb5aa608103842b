//! A corpus of real files written by others (public datasets that packages ship, kept under their
//! licences in `tests/data/corpus/`, see its README) loaded twice into tables typed as ClickHouse
//! infers them: by `ingest`, read as each file's route says, and by ClickHouse's own parser from
//! the same file — `INSERT … SELECT … FROM file()` with the matching format settings on 26.9;
//! on 18.16, which has neither schema inference nor most of those settings, `clickhouse-client`
//! splits the file into text fields and ClickHouse's own functions convert them. Every table must
//! agree in its row count and in the count and checksum of every column.
//!
//! ClickHouse reads UTF-8 only, so it is given files in other encodings as `iconv` (not `ingest`)
//! transcodes them; `ingest` reads the originals.

use crate::util::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// One file of the corpus and how each side reads it.
struct Case {
    /// Path under `tests/data/corpus`.
    file: &'static str,
    /// The route's settings for `ingest`, as TOML lines.
    route: &'static str,
    /// ClickHouse's input format for the file.
    format: &'static str,
    /// ClickHouse settings that say what the route says (26.9).
    settings: &'static [(&'static str, &'static str)],
    /// The file's encoding, when it is not UTF-8 (a name `iconv` knows).
    iconv: Option<&'static str>,
    /// Lines before the header (18.16 cannot skip them: they are cut before it reads).
    skip_lines: usize,
    delimiter: &'static str,
    /// Spellings of NULL besides an empty field.
    nulls: &'static [&'static str],
    /// Dates are written month first (18.16 has no `best_effort_us`: they are reordered for it).
    us_dates: bool,
    /// Every line ends with a delimiter.
    trailing: bool,
    /// Column names and types as ClickHouse 26.9 infers them with `settings`.
    schema: &'static str,
}

const CASES: &[Case] = &[
    Case {
        file: "vega_datasets/seattle-weather.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "date\tNullable(Date)\nprecipitation\tNullable(Float64)\ntemp_max\tNullable(Float64)\ntemp_min\tNullable(Float64)\nwind\tNullable(Float64)\nweather\tNullable(String)",
    },
    Case {
        file: "vega_datasets/stocks.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[("date_time_input_format", "best_effort")],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "symbol\tNullable(String)\ndate\tNullable(DateTime)\nprice\tNullable(Float64)",
    },
    Case {
        file: "vega_datasets/seattle-temps.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[("date_time_input_format", "best_effort")],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "date\tNullable(DateTime)\ntemp\tNullable(Float64)",
    },
    Case {
        file: "vega_datasets/sf-temps.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[("date_time_input_format", "best_effort")],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "temp\tNullable(Float64)\ndate\tNullable(DateTime)",
    },
    Case {
        file: "vega_datasets/iowa-electricity.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "year\tNullable(Date)\nsource\tNullable(String)\nnet_generation\tNullable(Int64)",
    },
    Case {
        file: "vega_datasets/la-riots.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "first_name\tNullable(String)\nlast_name\tNullable(String)\nage\tNullable(Int64)\ngender\tNullable(String)\nrace\tNullable(String)\ndeath_date\tNullable(Date)\naddress\tNullable(String)\nneighborhood\tNullable(String)\ntype\tNullable(String)\nlongitude\tNullable(Float64)\nlatitude\tNullable(Float64)",
    },
    Case {
        file: "vega_datasets/us-employment.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "month\tNullable(Date)\nnonfarm\tNullable(Int64)\nprivate\tNullable(Int64)\ngoods_producing\tNullable(Int64)\nservice_providing\tNullable(Int64)\nprivate_service_providing\tNullable(Int64)\nmining_and_logging\tNullable(Int64)\nconstruction\tNullable(Int64)\nmanufacturing\tNullable(Int64)\ndurable_goods\tNullable(Int64)\nnondurable_goods\tNullable(Int64)\ntrade_transportation_utilties\tNullable(Int64)\nwholesale_trade\tNullable(Float64)\nretail_trade\tNullable(Float64)\ntransportation_and_warehousing\tNullable(Float64)\nutilities\tNullable(Float64)\ninformation\tNullable(Int64)\nfinancial_activities\tNullable(Int64)\nprofessional_and_business_services\tNullable(Int64)\neducation_and_health_services\tNullable(Int64)\nleisure_and_hospitality\tNullable(Int64)\nother_services\tNullable(Int64)\ngovernment\tNullable(Int64)\nnonfarm_change\tNullable(Int64)",
    },
    Case {
        file: "vega_datasets/airports.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "iata\tNullable(String)\nname\tNullable(String)\ncity\tNullable(String)\nstate\tNullable(String)\ncountry\tNullable(String)\nlatitude\tNullable(Float64)\nlongitude\tNullable(Float64)",
    },
    Case {
        file: "palmerpenguins/penguins.csv",
        route: "null_values = ['NA']",
        format: "CSVWithNames",
        settings: &[("format_csv_null_representation", "NA")],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &["NA"],
        us_dates: false,
        trailing: false,
        schema: "species\tNullable(String)\nisland\tNullable(String)\nbill_length_mm\tNullable(Float64)\nbill_depth_mm\tNullable(Float64)\nflipper_length_mm\tNullable(Int64)\nbody_mass_g\tNullable(Int64)\nsex\tNullable(String)\nyear\tNullable(Int64)",
    },
    Case {
        file: "palmerpenguins/penguins-raw.csv",
        route: "null_values = ['NA']",
        format: "CSVWithNames",
        settings: &[("format_csv_null_representation", "NA")],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &["NA"],
        us_dates: false,
        trailing: false,
        schema: "studyName\tNullable(String)\nSample Number\tNullable(Int64)\nSpecies\tNullable(String)\nRegion\tNullable(String)\nIsland\tNullable(String)\nStage\tNullable(String)\nIndividual ID\tNullable(String)\nClutch Completion\tNullable(String)\nDate Egg\tNullable(Date)\nCulmen Length (mm)\tNullable(Float64)\nCulmen Depth (mm)\tNullable(Float64)\nFlipper Length (mm)\tNullable(Int64)\nBody Mass (g)\tNullable(Int64)\nSex\tNullable(String)\nDelta 15 N (o/oo)\tNullable(Float64)\nDelta 13 C (o/oo)\tNullable(Float64)\nComments\tNullable(String)",
    },
    Case {
        file: "csvkit/event-notification-rpt-lastmonth.txt",
        route: "format = 'csv'\ndelimiter = '|'\ntrailing_delimiter = true\ndate_format = { 'Notification Dt' = '%m/%d/%Y %H:%M:%S', 'Event Dt' = '%m/%d/%Y %H:%M:%S', 'Last Updated Dt' = '%m/%d/%Y %H:%M:%S' }",
        format: "CSVWithNames",
        settings: &[
            ("date_time_input_format", "best_effort_us"),
            ("format_csv_delimiter", "|"),
        ],
        iconv: None,
        skip_lines: 0,
        delimiter: "|",
        nulls: &[],
        us_dates: true,
        trailing: true,
        schema: "Event Desc\tNullable(String)\nEn No\tNullable(Int64)\nSite Name\tNullable(String)\nLicensee Name\tNullable(String)\nRegion No\tNullable(Int64)\nCity Name\tNullable(String)\nState Cd\tNullable(String)\nCounty Name\tNullable(String)\nLicense No\tNullable(String)\nAgreement State Ind\tNullable(String)\nDocket No\tNullable(String)\nUnit Ind1\tNullable(Int64)\nUnit Ind2\tNullable(Int64)\nUnit Ind3\tNullable(Int64)\nReactor Type\tNullable(String)\nNrc Notified By\tNullable(String)\nOps Officer\tNullable(String)\nNotification Dt\tNullable(DateTime)\nNotification Time\tNullable(String)\nEvent Dt\tNullable(DateTime)\nEvent Time\tNullable(String)\nTime Zone\tNullable(String)\nLast Updated Dt\tNullable(DateTime)\nEmergency Class\tNullable(String)\nCfr Cd1\tNullable(String)\nCfr Descr1\tNullable(String)\nCfr Cd2\tNullable(String)\nCfr Descr2\tNullable(String)\nCfr Cd3\tNullable(String)\nCfr Descr3\tNullable(String)\nCfr Cd4\tNullable(String)\nCfr Descr4\tNullable(String)\nStaff Name1\tNullable(String)\nOrg Abbrev1\tNullable(String)\nStaff Name2\tNullable(String)\nOrg Abbrev2\tNullable(String)\nStaff Name3\tNullable(String)\nOrg Abbrev3\tNullable(String)\nStaff Name4\tNullable(String)\nOrg Abbrev4\tNullable(String)\nStaff Name5\tNullable(String)\nOrg Abbrev5\tNullable(String)\nStaff Name6\tNullable(String)\nOrg Abbrev6\tNullable(String)\nStaff Name7\tNullable(String)\nOrg Abbrev7\tNullable(String)\nStaff Name8\tNullable(String)\nOrg Abbrev8\tNullable(String)\nStaff Name9\tNullable(String)\nOrg Abbrev9\tNullable(String)\nStaff Name10\tNullable(String)\nOrg Abbrev10\tNullable(String)\nScram Code 1\tNullable(String)\nRX CRIT 1\tNullable(String)\nInitial PWR 1\tNullable(Int64)\nInitial RX Mode1\tNullable(String)\nCurrent PWR 1\tNullable(Int64)\nCurrent RX Mode 1\tNullable(String)\nScram Code 2\tNullable(String)\nRX CRIT 2\tNullable(String)\nInitial PWR 2\tNullable(Int64)\nInitial RX Mode 2\tNullable(String)\nCurrent PWR 2\tNullable(Int64)\nCurrent RX Mode 2\tNullable(String)\nScram Code 3\tNullable(String)\nRX CRIT 3\tNullable(String)\nInitial PWR 3\tNullable(Int64)\nInitial RX Mode 3\tNullable(String)\nCurrent PWR 3\tNullable(Int64)\nCurrent RX Mode 3\tNullable(String)\nEvent Text\tNullable(String)",
    },
    Case {
        file: "csvkit/test_utf16_little.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: Some("UTF-16"),
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(String)",
    },
    Case {
        file: "csvkit/test_utf16_big.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: Some("UTF-16"),
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(String)",
    },
    Case {
        file: "csvkit/test_latin1.csv",
        route: "encoding = 'latin1'",
        format: "CSVWithNames",
        settings: &[],
        iconv: Some("ISO-8859-1"),
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(String)",
    },
    Case {
        file: "csvkit/dummy.tsv",
        route: "",
        format: "TSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: "\t",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(Int64)",
    },
    Case {
        file: "csvkit/test_skip_lines.csv",
        route: "skip_lines = 3",
        format: "CSVWithNames",
        settings: &[("input_format_csv_skip_first_lines", "3")],
        iconv: None,
        skip_lines: 3,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(Int64)",
    },
    Case {
        file: "csvkit/no_header_row.csv",
        route: "header = false",
        format: "CSV",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "c1\tNullable(Int64)\nc2\tNullable(Int64)\nc3\tNullable(Int64)",
    },
    Case {
        file: "csvkit/FY09_EDU_Recipients_by_State.csv",
        route: "trailing_delimiter = true",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: true,
        schema: "State Name\tNullable(String)\nState Abbreviate\tNullable(String)\nCode\tNullable(Int64)\nMontgomery GI Bill-Active Duty\tNullable(String)\nMontgomery GI Bill- Selective Reserve\tNullable(String)\nDependents' Educational Assistance\tNullable(String)\nReserve Educational Assistance Program\tNullable(String)\nPost-Vietnam Era Veteran's Educational Assistance Program\tNullable(Int64)\nTOTAL\tNullable(String)",
    },
    Case {
        file: "agate/exonerations-20150828.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "last_name\tNullable(String)\nfirst_name\tNullable(String)\nage\tNullable(Int64)\nrace\tNullable(String)\nstate\tNullable(String)\ntags\tNullable(String)\ncrime\tNullable(String)\nsentence\tNullable(String)\nconvicted\tNullable(Int64)\nexonerated\tNullable(Int64)\ndna\tNullable(String)\ndna_essential\tNullable(String)\nmistake_witness\tNullable(String)\nfalse_confession\tNullable(String)\nperjury\tNullable(String)\nfalse_evidence\tNullable(String)\nofficial_misconduct\tNullable(String)\ninadequate_defense\tNullable(String)",
    },
    Case {
        file: "agate/ks_1033_data.csv",
        route: "date_format = { ship_date = '%m/%d/%Y %H:%M:%S' }",
        format: "CSVWithNames",
        settings: &[("date_time_input_format", "best_effort_us")],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: true,
        trailing: false,
        schema: "state\tNullable(String)\ncounty\tNullable(String)\nfips\tNullable(Int64)\nnsn\tNullable(String)\nitem_name\tNullable(String)\nquantity\tNullable(Int64)\nui\tNullable(String)\nacquisition_cost\tNullable(Float64)\ntotal_cost\tNullable(Float64)\nship_date\tNullable(DateTime)\nfederal_supply_category\tNullable(Int64)\nfederal_supply_category_name\tNullable(String)\nfederal_supply_class\tNullable(Int64)\nfederal_supply_class_name\tNullable(String)",
    },
    Case {
        file: "frictionless/table-infer-iso-8859-7.csv",
        route: "encoding = 'iso-8859-7'",
        format: "CSVWithNames",
        settings: &[],
        iconv: Some("ISO-8859-7"),
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "id\tNullable(Int64)\nage\tNullable(Int64)\nname\tNullable(String)",
    },
    Case {
        file: "frictionless/issue-1009-semicolon.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[("format_csv_delimiter", ";")],
        iconv: None,
        skip_lines: 0,
        delimiter: ";",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "fieldNameA\tNullable(Int64)\nfieldNameB\tNullable(String)",
    },
    Case {
        file: "frictionless/table.tsv",
        route: "",
        format: "TSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: "\t",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "id\tNullable(Int64)\nname\tNullable(String)",
    },
    Case {
        file: "frictionless/vix.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[
            ("date_time_input_format", "best_effort"),
            ("format_csv_delimiter", ";"),
        ],
        iconv: None,
        skip_lines: 0,
        delimiter: ";",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "Date\tNullable(DateTime)\nVIXClose\tNullable(Float64)\nVIXHigh\tNullable(Float64)\nVIXLow\tNullable(Float64)\nVIXOpen\tNullable(Float64)",
    },
    Case {
        file: "frictionless/latin1.csv",
        route: "encoding = 'windows-1252'",
        format: "CSVWithNames",
        settings: &[],
        iconv: Some("WINDOWS-1252"),
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "id\tNullable(Int64)\nname\tNullable(String)",
    },
    Case {
        file: "csv-spectrum/comma_in_quotes.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "first\tNullable(String)\nlast\tNullable(String)\naddress\tNullable(String)\ncity\tNullable(String)\nzip\tNullable(Int64)",
    },
    Case {
        file: "csv-spectrum/empty.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(String)\nc\tNullable(String)",
    },
    Case {
        file: "csv-spectrum/empty_crlf.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(String)\nc\tNullable(String)",
    },
    Case {
        file: "csv-spectrum/escaped_quotes.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(String)",
    },
    Case {
        file: "csv-spectrum/json.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "key\tNullable(Int64)\nval\tNullable(String)",
    },
    Case {
        file: "csv-spectrum/location_coordinates.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "Contact Phone Number\tNullable(Int64)\nLocation Coordinates\tNullable(String)\nCities\tNullable(String)\nCounties\tNullable(String)",
    },
    Case {
        file: "csv-spectrum/newlines.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(String)\nb\tNullable(Int64)\nc\tNullable(Int64)",
    },
    Case {
        file: "csv-spectrum/newlines_crlf.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(String)\nb\tNullable(Int64)\nc\tNullable(Int64)",
    },
    Case {
        file: "csv-spectrum/quotes_and_newlines.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(String)",
    },
    Case {
        file: "csv-spectrum/simple.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(Int64)",
    },
    Case {
        file: "csv-spectrum/simple_crlf.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(Int64)",
    },
    Case {
        file: "csv-spectrum/utf8.csv",
        route: "",
        format: "CSVWithNames",
        settings: &[],
        iconv: None,
        skip_lines: 0,
        delimiter: ",",
        nulls: &[],
        us_dates: false,
        trailing: false,
        schema: "a\tNullable(Int64)\nb\tNullable(Int64)\nc\tNullable(String)",
    },
];

fn corpus(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/corpus")
        .join(file)
}

/// The file as ClickHouse is given it: UTF-8, transcoded by `iconv` where it is not.
fn utf8(case: &Case) -> Vec<u8> {
    let original = std::fs::read(corpus(case.file)).unwrap();
    let Some(from) = case.iconv else {
        return original;
    };
    let mut child = Command::new("iconv")
        .args(["-f", from, "-t", "UTF-8"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("iconv");
    child.stdin.take().unwrap().write_all(&original).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "iconv {}", case.file);
    out.stdout
}

fn columns(case: &Case) -> Vec<(&'static str, &'static str)> {
    case.schema
        .lines()
        .map(|l| l.split_once('\t').unwrap())
        .collect()
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Undoes the escapes of ClickHouse's TabSeparated output.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// 26.9: the schema ClickHouse infers is the case's, and its own parser loads the file.
fn reference_26(env: &Env, i: usize, case: &Case) {
    let name = format!(
        "{}_c{i}.{}",
        env.db,
        if case.format.starts_with("TSV") {
            "tsv"
        } else {
            "csv"
        }
    );
    std::fs::write(env.ch.user_files().join(&name), utf8(case)).unwrap();
    let described = env
        .ch
        .try_query_with(
            &format!("DESCRIBE file('{name}', {}) FORMAT TSV", case.format),
            case.settings,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.file));
    let inferred: Vec<String> = described
        .lines()
        .map(|l| {
            let mut cells = l.split('\t');
            format!(
                "{}\t{}",
                unescape(cells.next().unwrap()),
                cells.next().unwrap()
            )
        })
        .filter(|l| !l.starts_with('\t'))
        .collect();
    assert_eq!(
        inferred.join("\n"),
        case.schema,
        "{}: ClickHouse infers another schema",
        case.file
    );
    let list: Vec<String> = columns(case).iter().map(|(n, _)| quote(n)).collect();
    let sql = format!(
        "INSERT INTO {}.ref{i} SELECT {} FROM file('{name}', {})",
        env.db,
        list.join(", "),
        case.format
    );
    env.ch
        .try_query_with(&sql, case.settings)
        .unwrap_or_else(|e| panic!("{}: {e}", case.file));
}

/// ClickHouse 18.16's conversion of a text field `x` to a column type. (18.16 evaluates both
/// branches of `if`, so conversions are the `OrNull` ones; a field that does not convert makes
/// `ingest` fail the file, so it cannot pass unnoticed.)
fn convert_18(ty: &str, x: &str, case: &Case) -> String {
    let (nullable, base) = match ty
        .strip_prefix("Nullable(")
        .and_then(|t| t.strip_suffix(')'))
    {
        Some(inner) => (true, inner),
        None => (false, ty),
    };
    let value = match base {
        "Int64" => format!("toInt64OrNull({x})"),
        "Float64" => format!("toFloat64OrNull({x})"),
        "Date" => format!("toDateOrNull({x})"),
        "DateTime" if case.us_dates => format!(
            "parseDateTimeBestEffortOrNull(replaceRegexpOne({x}, '^(\\\\d{{1,2}})/(\\\\d{{1,2}})/(\\\\d{{4}})', '\\\\3-\\\\1-\\\\2'))"
        ),
        "DateTime" => format!("parseDateTimeBestEffortOrNull({x})"),
        "String" => x.to_owned(),
        other => panic!("{}: no 18.16 conversion for {other}", case.file),
    };
    if !nullable {
        return value;
    }
    let mut empty = vec![format!("{x} IS NULL"), format!("{x} = ''")];
    empty.extend(case.nulls.iter().map(|n| format!("{x} = '{n}'")));
    format!("if({}, NULL, {value})", empty.join(" OR "))
}

/// 18.16: `clickhouse-client` splits the file into text fields; ClickHouse converts them.
fn reference_18(env: &Env, i: usize, case: &Case) {
    let cols = columns(case);
    let width = cols.len() + usize::from(case.trailing);
    let fields: Vec<String> = (0..width)
        .map(|k| format!("f{k} Nullable(String)"))
        .collect();
    env.q(&format!(
        "CREATE TABLE {{db}}.stage{i} ({}) ENGINE = Memory",
        fields.join(", ")
    ));
    let mut text = utf8(case);
    for _ in 0..case.skip_lines {
        let at = text.iter().position(|&b| b == b'\n').unwrap();
        text.drain(..=at);
    }
    let mut client = Command::new("clickhouse-client");
    client.args([
        "--host",
        "127.0.0.1",
        "--port",
        &env.ch.tcp_port().to_string(),
        "--database",
        &env.db,
        "--query",
        &format!("INSERT INTO stage{i} FORMAT {}", case.format),
    ]);
    if case.format.starts_with("CSV") {
        client.arg(format!("--format_csv_delimiter={}", case.delimiter));
    }
    let mut child = client
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clickhouse-client");
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        case.file,
        String::from_utf8_lossy(&out.stderr)
    );
    let select: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(k, (_, ty))| convert_18(ty, &format!("f{k}"), case))
        .collect();
    env.q(&format!(
        "INSERT INTO {{db}}.ref{i} SELECT {} FROM {{db}}.stage{i}",
        select.join(", ")
    ));
}

/// Row count, then each column's count of values and checksum. On 18.16 two differences of that
/// version are evened out: its CSV parser cannot tell an empty quoted field from an empty one (so
/// an empty string and NULL count alike), and it reads decimal text into a double up to one unit
/// in the last place off where modern ClickHouse (and `ingest`) round correctly (so doubles are
/// compared to 10 decimals).
fn checksums(env: &Env, table: &str, case: &Case) -> Vec<(String, String)> {
    let mut out = vec![("rows".to_owned(), env.count(table).to_string())];
    for (name, ty) in columns(case) {
        let c = quote(name);
        let value = match (env.ch.is_old(), ty) {
            (true, "Nullable(String)") => format!("ifNull({c}, '')"),
            (true, "Nullable(Float64)") => format!("round({c}, 10)"),
            _ => c.clone(),
        };
        let sums = env.q(&format!(
            "SELECT count({value}), sum(cityHash64(toString({value}))) FROM {{db}}.{table}"
        ));
        out.push((name.to_owned(), sums.trim().to_owned()));
    }
    out
}

#[test]
fn the_corpus_lands_as_clickhouse_parses_it() {
    assert!(CASES.len() >= 15);
    let env = Env::new("corpus");
    let mut config = String::new();
    for (i, case) in CASES.iter().enumerate() {
        let defs: Vec<String> = columns(case)
            .iter()
            .map(|(n, t)| format!("{} {t}", quote(n)))
            .collect();
        for table in [format!("ing{i}"), format!("ref{i}")] {
            env.q(&format!(
                "CREATE TABLE {{db}}.{table} ({}) ENGINE = MergeTree ORDER BY tuple()",
                defs.join(", ")
            ));
        }
        let base = case.file.rsplit('/').next().unwrap();
        env.write(
            &format!("c{i}/{base}"),
            std::fs::read(corpus(case.file)).unwrap(),
        );
        config.push_str(&format!(
            "[[route]]\nglob = 'c{i}/*'\ntable = 'ing{i}'\n{}\n",
            case.route
        ));
        match env.ch.is_old() {
            true => reference_18(&env, i, case),
            false => reference_26(&env, i, case),
        }
    }
    let path = env.dir.path().join("ingest.toml");
    std::fs::write(&path, config).unwrap();
    let out = env.ingest(&["--config", path.to_str().unwrap()]);
    assert_code(&out, 0);
    let mut differences = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let theirs = checksums(&env, &format!("ref{i}"), case);
        let ours = checksums(&env, &format!("ing{i}"), case);
        assert!(
            theirs[0].1 != "0",
            "{}: ClickHouse loaded no rows",
            case.file
        );
        for (t, o) in theirs.iter().zip(&ours) {
            if t != o {
                differences.push(format!(
                    "{} {}: ClickHouse {} ingest {}",
                    case.file, t.0, t.1, o.1
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

"""Syntax files that read the CSV files with their labels and missing-value codes, as REDCap
ships them, and the SAS program that turns the transport files into labelled SAS datasets:

- `import_spss.sps` (SPSS and GNU PSPP): GET DATA per CSV file, variable and value labels,
  the negative codes declared user-missing;
- `import_stata.do`: import delimited per CSV file, labels, and the codes turned into Stata's
  extended missing values (.a, .b, ...) with the same value labels;
- `import_r.R`: read.csv per file and haven's labelled_spss (labels, na_values) per variable;
- `import_sas.sas` (with the .xpt files): long names back, the codes turned into SAS special
  missing values, PROC FORMAT value formats and full labels.

Every script names its files relative to the folder it is run in (the unpacked export). All of
them are written from the same column list as the data files and the codebook."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow.compute as pc

from datasets.base import Column, VarType
from datasets.instruments import Missing
from exports.writers.base import StagedDataset, WrittenFile
from exports.writers.transport import SAS_TEXT_MAX, sas_members, sas_names

SPSS_FILE = "import_spss.sps"
STATA_FILE = "import_stata.do"
R_FILE = "import_r.R"
SAS_FILE = "import_sas.sas"
SPSS_STRING_MAX = 32767


def _number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _text_width(staged: StagedDataset, column: Column) -> int:
    """The widest value in UTF-8 bytes (at least 1): the string width SPSS needs."""
    widest = 1
    for batch in staged.batches():
        lengths = pc.binary_length(batch.column(column.name))
        longest = pc.max(lengths).as_py()
        widest = max(widest, longest or 0)
    return min(widest, SPSS_STRING_MAX)


def _write(directory: Path, name: str, text: str, lines: int) -> WrittenFile:
    path = directory / name
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return WrittenFile(name, "syntax", "syntax", "", lines, path)


# --- SPSS / PSPP -----------------------------------------------------------------------------


def _spss_quote(text: str) -> str:
    return "'" + text.replace("'", "''").replace("\n", " ") + "'"


def _spss_missing(column: Column) -> str:
    codes = sorted(column.missing)
    if len(codes) <= 3:
        return " ".join(str(code) for code in codes)
    return f"{codes[0]} THRU {codes[-1]}"


def _spss_format(column: Column, width: int) -> str:
    if column.type == VarType.TEXT:
        return f"A{width}"
    if column.type == VarType.INTEGER:
        return "F8.0"
    return f"F16.{column.decimals if column.decimals is not None else 6}"


def spss(staged: list[StagedDataset], directory: Path) -> WrittenFile:
    lines = [
        "* Reads the CSV files of this export into SPSS or GNU PSPP datasets with variable",
        "* labels, value labels and the missing-value codes declared user-missing.",
        "* Run it from the folder the export was unpacked into (or CD there first).",
        "",
    ]
    for item in staged:
        columns = item.columns
        widths = {c.name: _text_width(item, c) for c in columns if c.type == VarType.TEXT}
        lines += [
            f"* {item.name}: {item.dataset.label.replace('.', ',')}.",
            "GET DATA",
            "  /TYPE=TXT",
            f"  /FILE='{item.name}.csv'",
            "  /ENCODING='UTF8'",
            "  /ARRANGEMENT=DELIMITED",
            "  /DELCASE=LINE",
            "  /FIRSTCASE=2",
            "  /DELIMITERS=','",
            "  /QUALIFIER='\"'",
            "  /VARIABLES=",
        ]
        lines += [f"    {c.name} {_spss_format(c, widths.get(c.name, 1))}" for c in columns]
        lines[-1] += "."
        lines.append("VARIABLE LABELS")
        labels = [f"  {c.name} {_spss_quote(c.label)}" for c in columns]
        lines += [labels[0]] + [f" /{text.lstrip()}" for text in labels[1:]]
        lines[-1] += "."
        labelled = [c for c in columns if c.type != VarType.TEXT and (c.value_labels or c.missing)]
        if labelled:
            lines.append("VALUE LABELS")
            for number, column in enumerate(labelled):
                pairs = [(value, label) for value, label in column.value_labels]
                pairs += [(m.code, m.label) for m in column.missing_codes]
                text = " ".join(f"{_number(v)} {_spss_quote(label)}" for v, label in pairs)
                lines.append(f"  {'/' if number else ''}{column.name} {text}")
            lines[-1] += "."
        for column in columns:
            if column.missing:
                lines.append(f"MISSING VALUES {column.name} ({_spss_missing(column)}).")
        nominal = [c.name for c in columns if c.type == VarType.TEXT or c.value_labels]
        if nominal:
            lines.append(f"VARIABLE LEVEL {' '.join(nominal)} (NOMINAL).")
        # A copy under the dataset's name: the next GET DATA replaces the active dataset.
        lines.append(f"DATASET COPY {item.name}.")
        lines.append("EXECUTE.")
        lines.append("")
    return _write(directory, SPSS_FILE, "\n".join(lines), len(lines))


# --- Stata -----------------------------------------------------------------------------------


def _stata_quote(text: str) -> str:
    # Compound quotes: any double quote inside is safe; Stata labels hold 80 characters.
    return '`"' + text.replace("\n", " ")[:80] + "\"'"


def _stata_recode(missing: list[Missing]) -> str:
    return " \\ ".join(f"{m.code}=.{m.stata}" for m in missing)


def stata(staged: list[StagedDataset], directory: Path) -> WrittenFile:
    lines = [
        "* Reads the CSV files of this export into Stata datasets (saved as <dataset>_csv.dta)",
        "* with variable labels, value labels and the missing-value codes turned into",
        "* extended missing values (.a, .b, ...). Run it from the folder of the unpacked export.",
        "version 14",
        "",
    ]
    for item in staged:
        columns = item.columns
        texts = [str(n) for n, c in enumerate(columns, start=1) if c.type == VarType.TEXT]
        strings = f" stringcols({' '.join(texts)})" if texts else ""
        numbers = [str(n) for n, c in enumerate(columns, start=1) if c.type != VarType.TEXT]
        numeric = f" numericcols({' '.join(numbers)})" if numbers else ""
        lines += [
            f"* {item.name}",
            f'import delimited using "{item.name}.csv", varnames(1) case(preserve) '
            f'encoding("utf-8") delimiters(",") bindquotes(strict){strings}{numeric} clear',
            f"label data {_stata_quote(item.dataset.label)}",
        ]
        for column in columns:
            lines.append(f"label variable {column.name} {_stata_quote(column.label)}")
        for column in columns:
            if column.type == VarType.TEXT or not (column.value_labels or column.missing):
                continue
            name = f"{column.name}_L"[:32]
            pairs = [f"{_number(v)} {_stata_quote(label)}" for v, label in column.value_labels]
            pairs += [f".{m.stata} {_stata_quote(m.label)}" for m in column.missing_codes]
            lines.append(f"label define {name} {' '.join(pairs)}, replace")
            if column.missing:
                lines.append(f"mvdecode {column.name}, mv({_stata_recode(column.missing_codes)})")
            lines.append(f"label values {column.name} {name}")
        lines += ["compress", f'save "{item.name}_csv.dta", replace', ""]
    return _write(directory, STATA_FILE, "\n".join(lines), len(lines))


# --- R ---------------------------------------------------------------------------------------


def _r_string(text: str) -> str:
    """An R string literal in ASCII (\\u escapes), so the script reads the same in any locale."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif ord(char) < 128:
            out.append(char)
        else:
            out.append(f"\\u{{{ord(char):04x}}}")
    return '"' + "".join(out) + '"'


def _r_labels(pairs: Iterable[tuple[int | float, str]]) -> str:
    return "c(" + ", ".join(f"{_r_string(label)} = {_number(v)}" for v, label in pairs) + ")"


def r_script(staged: list[StagedDataset], directory: Path) -> WrittenFile:
    lines = [
        "# Reads the CSV files of this export into R data frames with labels (haven): value",
        "# labels and the missing-value codes as haven::labelled_spss (na_values), so that",
        "# haven::zap_missing() or as_factor() work as with SPSS files. Run it from the folder",
        '# of the unpacked export, or source("import_r.R", chdir = TRUE).',
        "library(haven)",
        "",
        "read_export_csv <- function(file, classes) {",
        '  utils::read.csv(file, colClasses = classes, na.strings = "", encoding = "UTF-8",',
        '                  fileEncoding = "UTF-8", check.names = FALSE)',
        "}",
        "",
    ]
    for item in staged:
        columns = item.columns
        classes = ", ".join(
            f"{c.name} = {'character' if c.type == VarType.TEXT else 'numeric'!r}".replace("'", '"')
            for c in columns
        )
        frame = item.name
        lines.append(f"{frame} <- read_export_csv({_r_string(item.name + '.csv')}, c({classes}))")
        for column in columns:
            target = f"{frame}[[{_r_string(column.name)}]]"
            if column.type == VarType.TEXT:
                lines.append(f'attr({target}, "label") <- {_r_string(column.label)}')
                continue
            pairs = list(column.value_labels) + [(m.code, m.label) for m in column.missing_codes]
            arguments = [target]
            if pairs:
                arguments.append(f"labels = {_r_labels(pairs)}")
            if column.missing:
                codes = ", ".join(str(code) for code in column.missing)
                arguments.append(f"na_values = c({codes})")
            arguments.append(f"label = {_r_string(column.label)}")
            lines.append(f"{target} <- labelled_spss({', '.join(arguments)})")
        lines.append("")
    return _write(directory, R_FILE, "\n".join(lines), len(lines))


# --- SAS -------------------------------------------------------------------------------------


def _sas_quote(text: str) -> str:
    # Single quotes: no macro resolution of & and % inside.
    return "'" + text.replace("'", "''").replace("\n", " ") + "'"


def sas_program(staged: list[StagedDataset], directory: Path) -> WrittenFile:
    members = sas_members([item.name for item in staged])
    formats: dict[tuple[tuple[str, str], ...], str] = {}
    format_of: dict[tuple[str, str], str] = {}
    for item in staged:
        for column in item.columns:
            if column.type == VarType.TEXT or not (column.value_labels or column.missing):
                continue
            pairs = tuple(
                [(_number(v), label) for v, label in column.value_labels]
                + [(f".{m.stata.upper()}", m.label) for m in column.missing_codes]
            )
            name = formats.setdefault(pairs, f"VL{len(formats) + 1}_")
            format_of[(item.name, column.name)] = name
    lines = [
        "/* Reads the SAS transport files (.xpt, version 5) of this export into SAS datasets",
        "   with the long variable names, full labels, value formats, and the negative",
        "   missing-value codes turned into special missing values (.A, .B, ...).",
        "   Set the folder of the unpacked export below, then run the program. */",
        "%let export = .;",
        "",
        "proc format;",
    ]
    for pairs, name in formats.items():
        values = " ".join(f"{value}={_sas_quote(label)}" for value, label in pairs)
        lines.append(f"  value {name} {values};")
    lines += ["run;", ""]
    for item in staged:
        short = sas_names([c.name for c in item.columns])
        member = members[item.name]
        renames = " ".join(
            f"{short[c.name]}={c.name}" for c in item.columns if short[c.name] != c.name
        )
        rename = f"(rename=({renames}))" if renames else ""
        lines += [
            f'libname xpt_in xport "&export/{item.name}.xpt";',
            f"data work.{item.name};",
            f"  set xpt_in.{member}{rename};",
        ]
        for column in item.columns:
            if column.missing:
                for missing in column.missing_codes:
                    lines.append(
                        f"  if {column.name} = {missing.code} then "
                        f"{column.name} = .{missing.stata.upper()};"
                    )
        lines.append("  label")
        lines += [f"    {c.name}={_sas_quote(c.label[:256])}" for c in item.columns]
        lines[-1] += ";"
        formatted = [c for c in item.columns if (item.name, c.name) in format_of]
        if formatted:
            lines.append("  format")
            lines += [f"    {c.name} {format_of[(item.name, c.name)]}." for c in formatted]
            lines[-1] += ";"
        lines += ["run;", "libname xpt_in clear;", ""]
    texts = [c for item in staged for c in item.columns if c.type == VarType.TEXT]
    if texts:
        lines.append(
            f"/* Text values longer than {SAS_TEXT_MAX} bytes are cut in the transport files "
            "(a limit of version 5); the CSV and Parquet files hold them whole. */"
        )
    return _write(directory, SAS_FILE, "\n".join(lines) + "\n", len(lines))

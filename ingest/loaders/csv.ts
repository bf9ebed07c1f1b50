import path from "node:path";
import { CsvError, parse } from "csv-parse/sync";
import { UnreadableFileError } from "../../src/errors.js";
import { decodeText } from "../decode.js";
import { limitExceeded, type ParseLimits } from "../limits.js";
import type { LoadedSection, Loader } from "./types.js";

/**
 * One section per data row (the first row names the columns): a "column: value" line for each
 * non-empty cell. A nameless first column that only counts the rows (a saved pandas index) is left out.
 */
export function rowsToSections(rows: readonly (readonly string[])[], headingPath?: string[]): LoadedSection[] {
    const [header = [], ...records] = rows;
    const firstColumn = isRowNumberColumn(header, records) ? 1 : 0;
    const sections: LoadedSection[] = [];
    for (const record of records) {
        const lines: string[] = [];
        for (let column = firstColumn; column < record.length; column++) {
            const value = record[column]?.trim() ?? "";
            if (value !== "") {
                lines.push(`${header[column]?.trim() || `Column ${column + 1}`}: ${value}`);
            }
        }
        if (lines.length > 0) {
            sections.push(headingPath === undefined ? { text: lines.join("\n") } : { text: lines.join("\n"), headingPath });
        }
    }
    return sections;
}

function isRowNumberColumn(header: readonly string[], records: readonly (readonly string[])[]): boolean {
    const start = Number(records[0]?.[0]);
    return header[0]?.trim() === "" && (start === 0 || start === 1) && records.every((record, i) => record[0]?.trim() === String(start + i));
}

/** Throws when a table has more rows, columns or characters in a cell than `limits` allow. */
export function checkTable(rows: readonly (readonly string[])[], limits: ParseLimits): void {
    if (rows.length > limits.maxTableRows) throw limitExceeded("maxTableRows", limits, `has ${rows.length.toLocaleString("en")} rows`);
    for (const row of rows) {
        if (row.length > limits.maxTableColumns) throw limitExceeded("maxTableColumns", limits, `has a row of ${row.length.toLocaleString("en")} columns`);
        for (const cell of row) {
            if (cell.length > limits.maxCellChars) throw limitExceeded("maxCellChars", limits, `has a cell of ${cell.length.toLocaleString("en")} characters`);
        }
    }
}

/** Comma- or (for .tsv) tab-separated values. */
export const loadCsv: Loader = async (bytes, fileName, limits) => {
    const { text, encoding } = decodeText(bytes);
    const tabs = path.extname(fileName).toLowerCase() === ".tsv";
    let rows: string[][];
    try {
        rows = parse(text, {
            delimiter: tabs ? "\t" : ",", relax_column_count: true, relax_quotes: true, skip_empty_lines: true,
            // Stops at the first oversized record, before it is held.
            max_record_size: limits.maxCellChars,
            on_record: (record: string[], { records }) => {
                if (records > limits.maxTableRows) throw limitExceeded("maxTableRows", limits, `has more than ${limits.maxTableRows.toLocaleString("en")} rows`);
                if (record.length > limits.maxTableColumns) throw limitExceeded("maxTableColumns", limits, `has a row of ${record.length.toLocaleString("en")} columns`);
                return record;
            },
        });
    } catch (error) {
        if (error instanceof UnreadableFileError) throw error;
        if (error instanceof CsvError && error.code === "CSV_MAX_RECORD_SIZE") {
            throw limitExceeded("maxCellChars", limits, "has a record longer than allowed");
        }
        if (error instanceof CsvError) {
            throw new UnreadableFileError(`This ${tabs ? "TSV" : "CSV"} file cannot be parsed: ${error.message}`, { cause: error });
        }
        throw error;
    }
    return { sections: rowsToSections(rows), encoding };
};

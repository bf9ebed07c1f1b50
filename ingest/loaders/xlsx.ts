import readExcelFile, { type CellValue, type Sheet } from "read-excel-file/node";
import { UnreadableFileError } from "../../src/errors.js";
import { checkArchive } from "./archive.js";
import { checkTable, rowsToSections } from "./csv.js";
import type { LoadedSection, Loader } from "./types.js";

/** Excel .xlsx: every sheet, each row read as a CSV row is, under the sheet's name. */
export const loadXlsx: Loader = async (bytes, _fileName, limits) => {
    checkArchive(bytes, limits);
    let sheets: Sheet[];
    try {
        sheets = await readExcelFile(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
        throw new UnreadableFileError(
            "This file is not a valid Excel .xlsx workbook, or it is damaged. (An older .xls file must be saved as .xlsx first.)",
            { cause: error },
        );
    }
    const sections: LoadedSection[] = sheets.flatMap(({ sheet, data }) => {
        const rows = data.map((row) => row.map(cellText));
        checkTable(rows, limits);
        return rowsToSections(rows, [sheet]);
    });
    return { sections };
};

function cellText(value: CellValue | null): string {
    if (value === null) {
        return "";
    }
    return value instanceof Date ? value.toISOString() : String(value);
}

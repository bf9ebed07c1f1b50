import zlib from "node:zlib";

/** Hostile documents, made on the spot: the large ones are never committed. */

interface ZipEntry {
    name: string;
    data: string;
    /** The data is repeated this many times (default 1): how a zip bomb inflates. */
    repeat?: number;
}

/** A zip archive (deflate, no zip64) of `entries`, compressed by zlib as a stream so that nothing inflated is held. */
export async function zipOf(entries: readonly ZipEntry[]): Promise<Buffer> {
    const locals: Buffer[] = [];
    const central: Buffer[] = [];
    let offset = 0;
    for (const entry of entries) {
        const data = Buffer.from(entry.data);
        const repeat = entry.repeat ?? 1;
        const deflate = zlib.createDeflateRaw({ level: 9 });
        const compressed: Buffer[] = [];
        deflate.on("data", (chunk: Buffer) => compressed.push(chunk));
        const ended = new Promise((resolve) => deflate.on("end", resolve));
        let crc = 0;
        for (let i = 0; i < repeat; i++) {
            if (!deflate.write(data)) await new Promise((resolve) => deflate.once("drain", resolve));
            crc = zlib.crc32(data, crc);
        }
        deflate.end();
        await ended;
        const body = Buffer.concat(compressed);
        const name = Buffer.from(entry.name);
        const size = data.length * repeat;
        if (size >= 2 ** 32) throw new RangeError("zipOf writes no zip64: keep each entry under 4 GiB");

        const local = Buffer.alloc(30);
        local.writeUInt32LE(0x04034b50, 0);
        local.writeUInt16LE(20, 4);
        local.writeUInt16LE(0x0800, 6); // UTF-8 names
        local.writeUInt16LE(8, 8); // deflate
        local.writeUInt16LE(0x21, 12); // 1980-01-01
        local.writeUInt32LE(crc, 14);
        local.writeUInt32LE(body.length, 18);
        local.writeUInt32LE(size, 22);
        local.writeUInt16LE(name.length, 26);
        locals.push(local, name, body);

        const header = Buffer.alloc(46);
        header.writeUInt32LE(0x02014b50, 0);
        header.writeUInt16LE(20, 4);
        header.writeUInt16LE(20, 6);
        header.writeUInt16LE(0x0800, 8);
        header.writeUInt16LE(8, 10);
        header.writeUInt16LE(0x21, 14);
        header.writeUInt32LE(crc, 16);
        header.writeUInt32LE(body.length, 20);
        header.writeUInt32LE(size, 24);
        header.writeUInt16LE(name.length, 28);
        header.writeUInt32LE(offset, 42);
        central.push(header, name);
        offset += local.length + name.length + body.length;
    }
    const directory = Buffer.concat(central);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(directory.length, 12);
    end.writeUInt32LE(offset, 16);
    return Buffer.concat([...locals, directory, end]);
}

const MIB = 1024 * 1024;

/** An .xlsx whose one sheet inflates to about `mebibytes` MiB of rows. */
export function xlsxBomb(mebibytes: number): Promise<Buffer> {
    const row = "<row><c t=\"inlineStr\"><is><t>炸弹</t></is></c></row>".repeat(2000);
    return zipOf([
        { name: "[Content_Types].xml", data: "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>" },
        { name: "xl/workbook.xml", data: "<?xml version=\"1.0\"?><workbook><sheets><sheet name=\"Sheet1\" sheetId=\"1\"/></sheets></workbook>" },
        { name: "xl/worksheets/sheet1.xml", data: row, repeat: Math.ceil((mebibytes * MIB) / Buffer.byteLength(row)) },
    ]);
}

/** A .docx whose body inflates to about `mebibytes` MiB of paragraphs. */
export function docxBomb(mebibytes: number): Promise<Buffer> {
    const paragraph = "<w:p><w:r><w:t>炸弹</w:t></w:r></w:p>".repeat(2000);
    return zipOf([
        { name: "[Content_Types].xml", data: "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>" },
        { name: "word/document.xml", data: paragraph, repeat: Math.ceil((mebibytes * MIB) / Buffer.byteLength(paragraph)) },
    ]);
}

/**
 * A PDF of numbered objects (`objects[0]` is object 1, the catalog), with a correct cross-reference
 * table; its trailer declares `declaredSize` objects (default: the true count).
 */
export function pdfOf(objects: readonly string[], declaredSize = objects.length + 1): Buffer {
    const parts: string[] = ["%PDF-1.7\n"];
    const offsets: number[] = [];
    let length = Buffer.byteLength(parts[0]!);
    objects.forEach((body, i) => {
        offsets.push(length);
        const object = `${i + 1} 0 obj\n${body}\nendobj\n`;
        parts.push(object);
        length += Buffer.byteLength(object);
    });
    const xref = [`xref\n0 ${objects.length + 1}\n`, "0000000000 65535 f \n", ...offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`)].join("");
    parts.push(xref, `trailer\n<< /Size ${declaredSize} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`);
    return Buffer.from(parts.join(""), "latin1");
}

const font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
const stream = (content: string) => `<< /Length ${Buffer.byteLength(content, "latin1")} >>\nstream\n${content}\nendstream`;

/** A PDF whose page tree names one page `times` times. */
export function pdfPageBomb(times: number): Buffer {
    return pdfOf([
        "<< /Type /Catalog /Pages 2 0 R >>",
        `<< /Type /Pages /Count ${times} /Kids [${"3 0 R ".repeat(times)}] >>`,
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        stream("BT /F1 12 Tf 72 720 Td (one page, many times) Tj ET"),
        font,
    ]);
}

/** A one-page PDF whose trailer declares `count` objects. */
export function pdfDeclaringObjects(count: number): Buffer {
    return pdfOf([
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        stream("BT /F1 12 Tf 72 720 Td (few objects, many declared) Tj ET"),
        font,
    ], count);
}

/** A one-page PDF whose content saves the graphics state `depth` times before its text. */
export function pdfNestedSaves(depth: number): Buffer {
    return pdfOf([
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        stream(`${"q ".repeat(depth)}BT /F1 12 Tf 72 720 Td (deep) Tj ET ${"Q ".repeat(depth)}`),
        font,
    ]);
}

/** HTML with `depth` nested <div>s around one line of text. */
export function nestedHtml(depth: number): string {
    return `<!DOCTYPE html><html><body>${"<div>".repeat(depth)}深处的一行字。${"</div>".repeat(depth)}</body></html>`;
}

/**
 * One hostile document per row of the hardening table, with the reason it must fail with when read
 * with `parseTimeoutSeconds: 10` and `parseMemoryMb: 700` (the limits the tests and bench/hostile use).
 */
export const hostileCases: { row: string; name: string; make: () => Promise<Uint8Array | string> | Uint8Array | string; reason: RegExp }[] = [
    { row: "2", name: "炸弹.xlsx", make: () => xlsxBomb(600), reason: /maxInflatedBytes/ },
    { row: "3", name: "one-page-a-million-times.pdf", make: () => pdfPageBomb(1_000_000), reason: /1,000,000 pages.*maxPages/ },
    { row: "3", name: "a-hundred-million-objects.pdf", make: () => pdfDeclaringObjects(100_000_000), reason: /100,000,000 objects.*maxPdfObjects/ },
    { row: "3", name: "a-million-nested-saves.pdf", make: () => pdfNestedSaves(1_000_000), reason: /longer than 10 s.*parseTimeoutSeconds/ },
    { row: "3", name: "nested.html", make: () => nestedHtml(100_000), reason: /nests its elements deeper.*maxNestingDepth/ },
    { row: "4", name: "one-line.txt", make: () => "x".repeat(21_000_000), reason: /21,000,000 characters.*maxTextChars/ },
    { row: "4", name: "wide.csv", make: () => `${"a,".repeat(1_000_000)}\n${"b,".repeat(1_000_000)}\n`, reason: /columns.*maxTableColumns/ },
    { row: "4", name: "cell.csv", make: () => `title\n"${"x".repeat(2_000_000)}"\n`, reason: /maxCellChars/ },
    { row: "6", name: "炸弹.docx", make: () => docxBomb(600), reason: /maxInflatedBytes/ },
    {
        row: "memory", name: "many-paragraphs.html", reason: /more than 700 MB of memory.*parseMemoryMb/,
        make: () => `<!DOCTYPE html><html><body>${Array.from({ length: 300_000 }, (_, i) => `<p>第${i}段，<b>一些</b>文字。</p>`).join("")}</body></html>`,
    },
];

/** A rectangle of a picture, in pixels. */
export interface Region {
    left: number;
    top: number;
    width: number;
    height: number;
}

/** A greyscale picture, one byte a pixel, row by row. */
export interface GreyImage {
    data: Uint8Array;
    width: number;
    height: number;
}

/** Darker than this is ink. */
export const INK = 160;

/**
 * Where a picture has ink, answering "any ink in this stretch of a row (of a column)?" in
 * constant time: running counts of ink pixels along each row and each column. Cutting a page
 * into blocks asks that of every row and column of every region it tries.
 */
export class InkMap {
    public readonly width: number;
    public readonly height: number;
    /** For row y, at y·(width+1) + x: ink pixels in its first x pixels. */
    private readonly rows: Uint16Array;
    /** For column x, at x·(height+1) + y: ink pixels in its first y pixels. */
    private readonly columns: Uint16Array;

    public constructor({ data, width, height }: GreyImage) {
        if (width > 0xffff || height > 0xffff) throw new RangeError(`A picture of ${width}×${height} pixels is too large to map.`);
        this.width = width;
        this.height = height;
        this.rows = new Uint16Array((width + 1) * height);
        this.columns = new Uint16Array((height + 1) * width);
        for (let y = 0; y < height; y++) {
            for (let x = 0; x < width; x++) {
                const ink = data[y * width + x]! < INK ? 1 : 0;
                this.rows[y * (width + 1) + x + 1] = this.rows[y * (width + 1) + x]! + ink;
                this.columns[x * (height + 1) + y + 1] = this.columns[x * (height + 1) + y]! + ink;
            }
        }
    }

    /** Whether row `y` has ink within the region's width. */
    public rowHasInk(region: Region, y: number): boolean {
        const row = y * (this.width + 1);
        return this.rows[row + region.left + region.width]! > this.rows[row + region.left]!;
    }

    /** Whether column `x` has ink within the region's height. */
    public columnHasInk(region: Region, x: number): boolean {
        const column = x * (this.height + 1);
        return this.columns[column + region.top + region.height]! > this.columns[column + region.top]!;
    }

    /** The smallest region holding all of `region`'s ink; undefined when it has none. */
    public inkBounds(region: Region): Region | undefined {
        let top = region.top;
        const bottom = region.top + region.height;
        while (top < bottom && !this.rowHasInk(region, top)) top++;
        if (top === bottom) return undefined;
        let end = bottom;
        while (!this.rowHasInk(region, end - 1)) end--;
        const rows = { ...region, top, height: end - top };
        let left = region.left;
        while (!this.columnHasInk(rows, left)) left++;
        let right = region.left + region.width;
        while (!this.columnHasInk(rows, right - 1)) right--;
        return { left, top, width: right - left, height: end - top };
    }
}

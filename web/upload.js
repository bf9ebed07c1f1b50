/**
 * Drag-and-drop and file-picker uploads. Each file is its own request, one after another: a
 * knowledge base has one writer at a time, and per-file requests give per-file progress and results.
 */
import { uploadFile } from "./api.js";
import { clearProblem } from "./banner.js";
import { byId, el, messageOf } from "./dom.js";
import { setMessage } from "./i18n.js";
import { onKbChange, refreshKbs, selectedKb } from "./knowledgeBases.js";

/** @type {Promise<void>} */
let queue = Promise.resolve();

export function initUpload() {
    const dropzone = byId("dropzone");
    const input = /** @type {HTMLInputElement} */ (byId("file-input"));
    input.addEventListener("change", () => {
        enqueue([...(input.files ?? [])]);
        input.value = "";
    });
    dropzone.addEventListener("dragover", (event) => {
        event.preventDefault();
        dropzone.classList.add("dragging");
    });
    dropzone.addEventListener("dragleave", () => dropzone.classList.remove("dragging"));
    dropzone.addEventListener("drop", (event) => {
        event.preventDefault();
        dropzone.classList.remove("dragging");
        enqueue([...(event.dataTransfer?.files ?? [])]);
    });
    // A file dropped beside the drop zone would otherwise replace the page with the file.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
    onKbChange(clearFinished);
    byId("upload-clear").addEventListener("click", clearFinished);
}

/** Removes the rows of finished uploads (those still under way stay). */
function clearFinished() {
    for (const row of byId("upload-list").querySelectorAll("[data-testid=upload-item]")) {
        if (["ingested", "unchanged", "skipped", "failed"].includes(/** @type {HTMLElement} */ (row).dataset.status ?? "")) row.remove();
    }
    byId("upload-clear").hidden = byId("upload-list").childElementCount === 0;
}

/** @param {File[]} files */
function enqueue(files) {
    const kb = selectedKb();
    if (kb == null || files.length === 0) return;
    const rows = files.map((file) => {
        const row = createRow(file);
        byId("upload-list").append(row.element);
        return row;
    });
    byId("upload-clear").hidden = false;
    queue = queue.then(() => uploadAll(kb, files, rows));
}

/**
 * @param {string} kb
 * @param {File[]} files
 * @param {UploadRow[]} rows
 */
async function uploadAll(kb, files, rows) {
    // The counts and the document list follow file by file.
    for (const [i, file] of files.entries()) {
        const row = /** @type {UploadRow} */ (rows[i]);
        await uploadOne(kb, file, row);
        await refreshKbs();
    }
}

/**
 * @param {string} kb
 * @param {File} file
 * @param {UploadRow} row
 */
async function uploadOne(kb, file, row) {
    row.setProgress(0);
    try {
        const result = await uploadFile(kb, file, (fraction) => {
            if (fraction < 1) row.setProgress(fraction);
            else row.setProcessing();
        }, (progress) => row.setServerProgress(progress));
        if (result.status !== "failed") clearProblem("action");
        if (result.status === "ingested") row.finish("ingested", "uploadIngested", { chunks: result.chunks });
        else if (result.status === "unchanged") row.finish("unchanged", "uploadUnchanged");
        else if (result.status === "skipped") row.finish("skipped", "uploadSkipped", { reason: result.reason ?? "" });
        else row.finish("failed", "uploadFailed", { reason: result.reason ?? "" });
    } catch (error) {
        row.finish("failed", "uploadFailed", { reason: messageOf(error) });
    }
}

/**
 * @typedef {object} UploadRow
 * @property {HTMLLIElement} element
 * @property {(fraction: number) => void} setProgress
 * @property {() => void} setProcessing the bytes are sent; the server parses and embeds
 * @property {(progress: import("./api.js").FileProgress) => void} setServerProgress how far the server has got
 * @property {(status: string, key: import("./i18n.js").MessageKey, args?: import("./i18n.js").MessageArgs) => void} finish
 */

/**
 * @param {File} file
 * @returns {UploadRow}
 */
function createRow(file) {
    const fill = el("div", { className: "bar-fill" });
    const bar = el("div", {
        className: "bar",
        attributes: { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0", "aria-label": file.name },
    }, [fill]);
    const percent = el("span", { className: "upload-percent", testId: "upload-percent" }, ["0%"]);
    const result = el("span", { className: "upload-result", testId: "upload-result" });
    setMessage(result, "uploadWaiting");
    const element = el("li", { className: "upload", testId: "upload-item", attributes: { "data-status": "waiting" } }, [
        el("span", { className: "upload-name", testId: "upload-name", attributes: { title: file.name } }, [file.name]),
        bar,
        percent,
        result,
    ]);
    /** @param {number} fraction */
    const showProgress = (fraction) => {
        const value = Math.round(fraction * 100);
        fill.style.width = `${value}%`;
        bar.setAttribute("aria-valuenow", String(value));
        percent.textContent = `${value}%`;
    };
    return {
        element,
        setProgress(fraction) {
            element.dataset.status = "uploading";
            result.textContent = "";
            delete result.dataset.i18n;
            showProgress(fraction);
        },
        setProcessing() {
            element.dataset.status = "processing";
            showProgress(1);
            setMessage(result, "uploadProcessing");
        },
        setServerProgress(progress) {
            element.dataset.status = "processing";
            if (progress.stage === "parsing") setMessage(result, "uploadParsing");
            else if (progress.stage === "ocr") setMessage(result, "uploadOcr", { done: progress.pages?.done ?? 0, total: progress.pages?.total ?? 0 });
            else setMessage(result, "uploadEmbedding", { done: progress.chunksEmbedded, total: progress.chunks });
        },
        finish(status, key, args) {
            element.dataset.status = status;
            showProgress(1);
            setMessage(result, key, args);
        },
    };
}

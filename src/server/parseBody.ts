import type { z } from "zod";
import { HttpError } from "./httpErrors.js";

/** Validates a request body; a 400 names every field that is missing or wrong. */
export function parseBody<Schema extends z.ZodType>(schema: Schema, body: unknown): z.infer<Schema> {
    if (body == null || typeof body !== "object" || Array.isArray(body))
        throw new HttpError("invalid_request", "The request body must be a JSON object (Content-Type: application/json).");
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue.message}`);
    throw new HttpError("invalid_request", problems.join("; "));
}

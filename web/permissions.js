/**
 * What the key in use may do (`GET /whoami`), so that the page offers only that. The server
 * decides all the same; this only spares a person buttons that would answer 403.
 */
import { api } from "./api.js";

/** @typedef {"read" | "write" | "manage"} Permission */
/** @typedef {{ name: string, role: "reader" | "writer" | "admin", kbs: "*" | string[] }} Principal */

/** @type {Record<Permission, number>} */
const rankNeeded = { read: 0, write: 1, manage: 2 };
const rankOf = { reader: 0, writer: 1, admin: 2 };

/** @type {Principal} */
let principal = { name: "", role: "admin", kbs: "*" };

/** Asks the server who the current key is. */
export async function loadPrincipal() {
    principal = await api("GET", "whoami");
}

/**
 * @param {Permission} permission
 * @param {string | null} [kb]
 * @returns {boolean} whether the current key may do `permission` (on `kb`)
 */
export function may(permission, kb) {
    if (rankOf[principal.role] < rankNeeded[permission]) return false;
    if (principal.role === "admin" || principal.kbs === "*") return true;
    return kb != null && principal.kbs.includes(kb);
}

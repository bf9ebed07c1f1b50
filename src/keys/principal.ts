/** What a key may do, from least to most: `reader` ⊂ `writer` ⊂ `admin`. */
export const roles = ["reader", "writer", "admin"] as const;
export type Role = (typeof roles)[number];

/**
 * - `read`: list a knowledge base, its documents, ask and search it (reader and up);
 * - `write`: upload documents to it and delete them (writer and up);
 * - `manage`: create and delete knowledge bases (admin).
 */
export type Permission = "read" | "write" | "manage";

const roleFor: Record<Permission, Role> = { read: "reader", write: "writer", manage: "admin" };

/** Who a request is from: a named key with its role, over all knowledge bases (`*`) or some. */
export interface Principal {
    name: string;
    role: Role;
    kbs: "*" | readonly string[];
}

/** The principal of a server that requires no key: anyone who reaches it may do anything. */
export const anyone: Principal = { name: "anyone", role: "admin", kbs: "*" };

/** Whether `principal` may do `permission` (on knowledge base `kb`, for `read` and `write`). */
export function can(principal: Principal, permission: Permission, kb?: string): boolean {
    if (roles.indexOf(principal.role) < roles.indexOf(roleFor[permission])) return false;
    if (principal.role === "admin" || principal.kbs === "*") return true;
    return kb != null && principal.kbs.includes(kb);
}

/** The role a permission needs, for messages. */
export function roleNeeded(permission: Permission): Role {
    return roleFor[permission];
}

// Served by the server from the marked package (src/server/createApp.ts); typed from it.
export * from "marked";

// Served by the server from the dompurify package (src/server/createApp.ts); typed from it.
export { default } from "dompurify";
export * from "dompurify";

// Files imported as text (`import source from "./workflow.yaml" with { type: "text" }`): Bun, Deno 2.9 and
// wrangler's Text module rule all give the file's contents as a string. (routes/dashboard/app.js has its
// own app.d.ts: TypeScript resolves a .js import to the file itself.)
declare module "*.yaml" {
  const text: string;
  export default text;
}

declare module "*.css" {
  const text: string;
  export default text;
}

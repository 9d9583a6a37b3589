// Files imported as text (`import source from "./workflow.yaml" with { type: "text" }`): Bun, Deno 2.9 and
// wrangler's Text module rule all give the file's contents as a string.
declare module "*.yaml" {
  const text: string;
  export default text;
}

declare module "*.css" {
  const text: string;
  export default text;
}

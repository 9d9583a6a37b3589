// app.js is a browser script, imported only as text (`import script from "./app.js" with { type: "text" }`).
declare const text: string;
export default text;

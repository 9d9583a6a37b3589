/** The dashboard's stylesheet, served as `/dashboard/app.css`. System fonts only; one column under 760px. */
export const DASHBOARD_STYLE = String.raw`
:root {
  --bg: #f5f6f8;
  --card: #ffffff;
  --ink: #0f172a;
  --muted: #64748b;
  --line: #e2e8f0;
  --accent: #1d4ed8;
  --accent-ink: #ffffff;
  --ok: #15803d;
  --warn: #b45309;
  --bad: #b91c1c;
  --run: #1d4ed8;
  --radius: 10px;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  color-scheme: light;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono, pre, textarea.code { font-family: var(--mono); font-size: 13px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 16px; margin: 0 0 12px; }
h3 { font-size: 13px; margin: 14px 0 6px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
p { margin: 0 0 10px; }

.topbar {
  position: sticky; top: 0; z-index: 2;
  display: flex; align-items: center; gap: 20px; flex-wrap: wrap;
  padding: 10px 24px;
  background: #0f172a; color: #e2e8f0;
}
.brand { color: #ffffff; font-weight: 700; letter-spacing: .01em; }
.brand::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 8px; border-radius: 3px; background: #f97316; }
.topbar nav { display: flex; gap: 4px; flex: 1; }
.topbar nav a { color: #cbd5e1; padding: 6px 10px; border-radius: 6px; }
.topbar nav a:hover { background: #1e293b; text-decoration: none; }
.topbar nav a[aria-current="page"] { background: #1e293b; color: #ffffff; }
.topbar button { background: transparent; border: 1px solid #334155; color: #cbd5e1; }

main { max-width: 1280px; margin: 0 auto; padding: 24px; }
.page-head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; margin-bottom: 8px; }
.page-head .muted { margin: 0; }
.muted { color: var(--muted); }
.meta { color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
.description { max-width: 70ch; }
.exec-id { margin: 0 0 4px; overflow-wrap: anywhere; }

.card {
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: var(--radius);
  padding: 18px;
  margin-bottom: 18px;
  min-width: 0;
}
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 18px; align-items: start; }
.cards .card { margin: 0; }
.card-head { display: flex; align-items: baseline; justify-content: space-between; gap: 8px; }
.card-head h2 { margin: 0 0 4px; font-size: 17px; }
.split { display: grid; grid-template-columns: minmax(0, 1.1fr) minmax(0, 1fr); gap: 18px; align-items: start; }
.split.execution { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
.column { min-width: 0; }
.gate { max-width: 460px; margin: 48px auto; }
.gate h1 { margin-bottom: 8px; }

.pill { font-size: 12px; padding: 1px 8px; border-radius: 999px; background: #eef2ff; color: #3730a3; }
.badge {
  display: inline-block; font-size: 12px; font-weight: 600; line-height: 18px;
  padding: 1px 9px; border-radius: 999px; background: #e2e8f0; color: #334155; white-space: nowrap;
}
.status-completed, .action-completed.badge { background: #dcfce7; color: var(--ok); }
.status-failed, .action-failed.badge { background: #fee2e2; color: var(--bad); }
.status-halted, .action-halted.badge { background: #fef3c7; color: var(--warn); }
.status-running, .action-running.badge { background: #dbeafe; color: var(--run); }
.status-pending { background: #f1f5f9; color: #475569; }
.live { font-size: 12px; font-weight: 600; color: var(--ok); display: inline-flex; align-items: center; gap: 6px; }
.live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
.live-streaming::before { animation: pulse 1.2s ease-in-out infinite; }
.live-reconnecting, .live-polling { color: var(--warn); }
@keyframes pulse { 50% { opacity: .25; } }

button, .button {
  display: inline-flex; align-items: center; justify-content: center;
  min-height: 38px; padding: 7px 16px;
  font: inherit; font-weight: 600; font-size: 14px;
  border-radius: 8px; border: 1px solid var(--accent);
  background: var(--accent); color: var(--accent-ink); cursor: pointer;
}
.button:hover { text-decoration: none; filter: brightness(1.08); }
button:hover { filter: brightness(1.08); }
button:disabled { opacity: .55; cursor: progress; }
button.secondary, .button.secondary { background: #ffffff; color: var(--ink); border-color: #cbd5e1; }
button.approve { background: var(--ok); border-color: var(--ok); }
button.reject { background: #ffffff; color: var(--bad); border-color: #fca5a5; }
.actions { display: flex; gap: 10px; flex-wrap: wrap; margin-top: 14px; }

input, select, textarea {
  font: inherit; color: inherit; background: #ffffff;
  border: 1px solid #cbd5e1; border-radius: 8px; padding: 8px 10px; width: 100%;
}
textarea.code { resize: vertical; line-height: 1.45; }
input:focus, select:focus, textarea:focus, button:focus-visible, a:focus-visible { outline: 2px solid #93c5fd; outline-offset: 1px; }
label { font-weight: 600; font-size: 13px; }
.stack { display: flex; flex-direction: column; gap: 8px; align-items: stretch; }
.stack button { align-self: flex-start; }
.error { color: var(--bad); margin: 0; overflow-wrap: anywhere; }
.error:empty { display: none; }
.failure { padding: 10px 12px; background: #fef2f2; border-radius: 8px; margin-bottom: 10px; }
.filters { display: flex; gap: 14px; align-items: flex-end; flex-wrap: wrap; }
.filters label { display: flex; flex-direction: column; gap: 4px; min-width: 200px; }
.filters select { font-weight: 400; }

dl.inputs, dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0 0 14px; font-size: 13px; }
dl dt { color: var(--muted); }
dl dd { margin: 0; overflow-wrap: anywhere; }

table.executions { width: 100%; border-collapse: collapse; font-size: 14px; }
table.executions th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600; padding: 6px 10px; border-bottom: 1px solid var(--line); }
table.executions td { padding: 9px 10px; border-bottom: 1px solid var(--line); vertical-align: middle; }
table.executions td .mono { display: inline-block; max-width: 26ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; }
table.executions tr:last-child td { border-bottom: 0; }

.halt { border-color: #fcd34d; background: #fffbeb; }
.halt .prompt { font-size: 17px; font-weight: 600; overflow-wrap: anywhere; }
.halt.sent { border-color: var(--line); background: var(--card); color: var(--muted); }

.timeline { list-style: none; margin: 0; padding: 0 0 0 18px; border-left: 2px solid var(--line); }
.entry { position: relative; padding: 0 0 14px 10px; }
.entry::before {
  content: ""; position: absolute; left: -25px; top: 5px;
  width: 12px; height: 12px; border-radius: 50%; background: var(--ok); border: 2px solid #ffffff;
}
.entry.action-failed::before { background: var(--bad); }
.entry.action-halted::before { background: var(--warn); }
.entry.action-running::before { background: var(--run); animation: pulse 1.2s ease-in-out infinite; }
.entry-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.entry-step { font-weight: 600; font-family: var(--mono); font-size: 13.5px; overflow-wrap: anywhere; }
.entry-type { color: var(--muted); font-size: 12px; }
.entry-duration { margin-left: auto; font-variant-numeric: tabular-nums; font-size: 13px; color: #334155; }
.entry-meta { display: flex; align-items: center; gap: 10px; color: var(--muted); font-size: 12px; margin-top: 2px; }
.bar { flex: 0 0 80px; height: 5px; border-radius: 3px; background: #e2e8f0; position: relative; overflow: hidden; }
.bar::after { content: ""; position: absolute; inset: 0; width: calc(var(--share, 0) * 100%); background: #60a5fa; border-radius: 3px; }
.entry .error { font-size: 13px; margin-top: 4px; }

details.data { margin-top: 6px; }
details.data summary { cursor: pointer; font-size: 13px; font-weight: 600; color: #334155; }
.data-slot details.data { border-top: 1px solid var(--line); padding-top: 8px; margin-top: 8px; }
.data-slot details.data:first-child { border-top: 0; margin-top: 0; padding-top: 0; }
pre.json {
  margin: 6px 0 0; padding: 10px 12px; background: #f8fafc; border: 1px solid var(--line); border-radius: 8px;
  max-height: 420px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere;
}

.diagram { overflow: auto; text-align: center; min-height: 60px; }
.diagram[aria-busy="true"]::before { content: "Loading diagram…"; color: var(--muted); font-size: 13px; }
.diagram svg { max-width: 100%; height: auto; }
.diagram.thumb { margin: 10px 0 0; padding: 10px; background: #fbfcfd; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.diagram.thumb svg { width: auto; max-height: 380px; }

@media (max-width: 760px) {
  main { padding: 14px; }
  .topbar { padding: 10px 14px; gap: 10px; }
  .split, .split.execution { grid-template-columns: minmax(0, 1fr); }
  .cards { grid-template-columns: minmax(0, 1fr); }
  .card { padding: 14px; }
  h1 { font-size: 20px; }
  .filters label { min-width: 0; flex: 1 1 140px; }
  .actions button, .actions .button { flex: 1 1 auto; }
  table.executions thead { display: none; }
  table.executions, table.executions tbody, table.executions tr, table.executions td { display: block; width: 100%; }
  table.executions tr { padding: 8px 0; border-bottom: 1px solid var(--line); }
  table.executions td { border: 0; padding: 2px 0; display: flex; gap: 10px; }
  table.executions td::before { content: attr(data-label); flex: 0 0 84px; color: var(--muted); font-size: 12px; }
  .entry-head { gap: 6px; }
  .entry-type { display: none; }
}
`;

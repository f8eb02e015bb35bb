/**
 * The explorer: one self-contained page served by the service at `/`. It reads the same
 * JSON API anyone can call (agents with bond and status, tasks, an action's trace steps
 * checked against the chain, disputes and slashes, escalations and forks) and can submit a task. No build step,
 * no external assets (the page must work on a machine without network).
 */
export function explorerHtml(): string {
  return PAGE
}

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Covenant explorer</title>
<link rel="icon" href="data:,">
<style>
  :root { --fg:#1b1f24; --muted:#5b6570; --line:#d9dee3; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --bg:#f6f8fa; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:#fff; }
  header { padding:14px 24px; border-bottom:1px solid var(--line); display:flex; gap:16px; align-items:baseline; }
  header h1 { font-size:18px; margin:0; }
  header span { color:var(--muted); }
  main { display:grid; grid-template-columns: minmax(320px, 1fr) minmax(420px, 1.4fr); gap:20px; padding:20px 24px; }
  section { border:1px solid var(--line); border-radius:8px; overflow:hidden; }
  section > h2 { margin:0; padding:10px 14px; font-size:14px; background:var(--bg); border-bottom:1px solid var(--line); display:flex; justify-content:space-between; }
  table { width:100%; border-collapse:collapse; }
  td, th { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--muted); font-weight:600; font-size:12px; }
  tr.clickable { cursor:pointer; }
  tr.clickable:hover { background:var(--bg); }
  code, .mono { font:12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; word-break:break-all; }
  .pill { display:inline-block; padding:0 8px; border-radius:10px; font-size:12px; border:1px solid var(--line); }
  .ok { color:var(--ok); border-color:var(--ok); } .bad { color:var(--bad); border-color:var(--bad); } .warn { color:var(--warn); border-color:var(--warn); }
  .empty { padding:14px; color:var(--muted); }
  form { display:flex; gap:8px; padding:10px 14px; border-bottom:1px solid var(--line); }
  form select, form input { font:inherit; padding:4px 6px; }
  form input { flex:1; }
  #detail pre { margin:0; padding:8px 10px; background:var(--bg); max-height:180px; overflow:auto; }
  .step { border-bottom:1px solid var(--line); padding:8px 14px; }
  .step h3 { margin:0 0 4px; font-size:13px; display:flex; gap:8px; align-items:center; }
  .wide { grid-column: 1 / -1; }
  #agents td, #tasks td, #disputes td:not(.mono) { white-space:nowrap; }
</style>
</head>
<body>
<header><h1>Covenant explorer</h1><span>agents · actions · trace steps · disputes · forks</span><span id="status" role="status"></span></header>
<main>
  <section>
    <h2>Agents <button id="refresh" type="button">refresh</button></h2>
    <table id="agents"><thead><tr><th>agent</th><th>bond (ETH)</th><th>pending</th><th>account (ETH)</th><th>calls covered</th><th>budget left (ETH)</th><th>status</th><th>disputes</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Actions</h2>
    <form id="submit">
      <select id="agent" aria-label="agent"></select>
      <input id="task" aria-label="task" placeholder="task for the agent (text or JSON)">
      <button type="submit">run</button>
    </form>
    <table id="tasks"><thead><tr><th>action</th><th>agent</th><th>status</th><th>tx</th><th>committed</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="detail" class="wide" hidden>
    <h2><span id="detail-title">Action</span> <span id="detail-verdict"></span></h2>
    <div id="detail-body"></div>
  </section>
  <section class="wide">
    <h2>Disputes and slashes</h2>
    <table id="disputes"><thead><tr><th>#</th><th>kind</th><th>agent</th><th>where</th><th>status</th><th>slashed (ETH)</th><th>challenger</th><th>escalation</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Escalations and forks <span id="fork-rule"></span></h2>
    <table id="forks"><thead><tr><th>fork</th><th>dispute</th><th>contested verdict</th><th>contester</th><th>bond (ETH)</th><th>stands (CVW)</th><th>overturned (CVW)</th><th>outcome</th><th>verifier stake slashed (CVW)</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
const $ = (s) => document.querySelector(s)
const eth = (wei) => (Number(BigInt(wei ?? 0) / 10n ** 12n) / 1e6).toString()
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;' }[c]))
const pill = (text, cls) => '<span class="pill ' + cls + '">' + esc(text) + '</span>'
const statusClass = (s) => ({ completed:'ok', honest:'ok', ok:'ok', active:'ok', Slashed:'bad', slashed:'bad', failed:'bad', faulty:'bad', fault:'bad', Rejected:'warn', Expired:'warn', Open:'warn', Decided:'warn', Contested:'bad', Stands:'ok', Overturned:'bad', pending:'warn', disputed:'warn', queued:'warn', running:'warn', unverifiable:'warn', incomplete:'warn' }[s] ?? '')
async function api(path, init) {
  const r = await fetch(path, init)
  const body = await r.json().catch(() => ({}))
  if (!r.ok) throw new Error(body.error ? body.error.message : r.status + ' ' + r.statusText)
  return body
}
function say(text) { $('#status').textContent = text }
async function loadAgents() {
  const { agents } = await api('/agents')
  $('#agents tbody').innerHTML = agents.length ? agents.map((a) =>
    '<tr data-agent="' + esc(a.name) + '"><td>' + esc(a.name) + ' <span class="mono">#' + esc(a.agentId) + '</span></td><td>' + eth(a.bond.eth) +
    '</td><td>' + eth(a.bond.pendingEth) + '</td><td title="' + esc(a.account.address) + '">' + eth(a.account.balance) +
    '</td><td>' + esc(a.account.covered) + ' / ' + esc(a.account.calls) +
    (Number(a.account.calls) > Number(a.account.covered) ? ' ' + pill((Number(a.account.calls) - Number(a.account.covered)) + ' uncovered', 'warn') : '') +
    '</td><td>' + (a.account.dailyBudget === null ? 'no limit' : eth(a.account.budgetLeft)) + '</td><td>' + pill(a.status, statusClass(a.status)) +
    (BigInt(a.slashedEth) > 0n ? ' −' + eth(a.slashedEth) + ' ETH' : '') + '</td><td>' + esc(a.disputes) +
    (a.openDisputes ? ' ' + pill(a.openDisputes + ' open', 'warn') : '') + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="8">no agents deployed</td></tr>'
  const sel = $('#agent'); const current = sel.value
  sel.innerHTML = agents.map((a) => '<option value="' + esc(a.name) + '">' + esc(a.name) + '</option>').join('')
  if (current) sel.value = current
}
// a batch can be committed while the action is still running: "committed" means every step
function committedText(t) {
  const seqs = t.commitments.map((c) => c.sequence).join(', ')
  if (t.committed) return 'batch ' + seqs
  return t.commitments.length ? 'partly (batch ' + seqs + ')' : '–'
}
async function loadTasks() {
  const { tasks } = await api('/tasks')
  $('#tasks tbody').innerHTML = tasks.length ? tasks.map((t) =>
    '<tr class="clickable" data-action="' + esc(t.actionId) + '"><td class="mono">' + esc(t.actionId) + '</td><td>' + esc(t.agent) + '</td><td>' +
    pill(t.status, statusClass(t.status)) + '</td><td>' + t.txHashes.length + '</td><td>' + committedText(t) + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="5">no actions yet</td></tr>'
}
// what the dispute is about: a step of a committed batch, or (untraced action) a transaction
function where(d) {
  // proven on chain (no challenger bond): an AgentAccount call, by its sequence number
  if (d.kind === 'UntracedAction' && String(d.bond) === '0') return 'account call ' + esc(d.stepIndex)
  if (d.kind === 'UntracedAction') return 'tx <span class="mono">' + esc(String(d.subject).slice(0, 12)) + '…</span>'
  return 'batch ' + esc(d.sequence) + (d.kind === 'DataWithheld' || d.kind === 'Equivocation' ? '' : ', position ' + esc(d.stepIndex))
}
const time = (t) => new Date(Number(t) * 1000).toLocaleTimeString()
// a quorum verdict waits out its escalation window; a contested one waits for its fork
function escalation(d, forkOf) {
  const f = forkOf.get(String(d.disputeId))
  if (f) return 'fork #' + esc(f.forkId) + (f.canonical === 'None' ? ' (pending)' : ' → ' + esc(f.canonical))
  if (d.status === 'Decided') return 'contestable until ' + time(d.finalizesAt)
  return Number(d.finalizesAt) > 0 ? 'uncontested' : '–'
}
async function loadDisputes() {
  const [{ disputes }, { forks, rule }] = await Promise.all([api('/disputes'), api('/forks')])
  const forkOf = new Map(forks.map((f) => [String(f.disputeId), f]))
  $('#disputes tbody').innerHTML = disputes.length ? disputes.map((d) =>
    '<tr data-dispute="' + esc(d.disputeId) + '"><td>' + esc(d.disputeId) + '</td><td>' + esc(d.kind) + '</td><td>#' + esc(d.agentId) + '</td><td>' + where(d) + '</td><td>' +
    pill(d.status, statusClass(d.status)) + '</td><td>' + eth(d.slashedEth) + '</td><td class="mono">' + esc(d.challenger) + '</td><td>' + escalation(d, forkOf) + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="8">no disputes</td></tr>'
  $('#fork-rule').textContent = Number(rule.escalationWindow) === 0 ? 'verdicts are final at quorum (no fork backstop)'
    : 'contestable ' + rule.escalationWindow + ' s · bond ' + eth(rule.forkBond) + ' ETH · fork ' + rule.forkPeriod + ' s · overturned above ' + (rule.forkChoiceBps / 100) + '% of the redeemed CVW'
  $('#forks tbody').innerHTML = forks.length ? forks.map((f) =>
    '<tr data-fork="' + esc(f.forkId) + '"><td>#' + esc(f.forkId) + '</td><td>#' + esc(f.disputeId) + '</td><td>' + (f.verdictAtFault ? 'at fault' : 'not at fault') +
    '</td><td class="mono">' + esc(f.contester) + '</td><td>' + eth(f.bond) + '</td><td>' + eth(f.redeemedStands) + '</td><td>' + eth(f.redeemedOverturned) + '</td><td>' +
    (f.canonical === 'None' ? pill('pending', 'warn') + ' leading ' + esc(f.leading) + ', ends ' + time(f.endsAt) : pill(f.canonical, statusClass(f.canonical))) +
    '</td><td>' + eth(f.slashedStake) + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="9">no escalations</td></tr>'
}
async function showAction(id) {
  $('#detail').hidden = false
  $('#detail-title').textContent = 'Action ' + id
  $('#detail-verdict').innerHTML = ''
  $('#detail-body').innerHTML = '<div class="empty">checking the committed trace…</div>'
  const task = await api('/tasks/' + id).catch(() => null)
  const notes = []
  if (task && task.error) notes.push(pill(task.status, statusClass(task.status)) + ' ' + esc(task.error.name) + ': ' + esc(task.error.message))
  try {
    const report = await api('/actions/' + id)
    const partial = task && !task.committed && task.stepIndices.length > report.steps.length
    if (partial) notes.push(pill('not fully committed', 'warn') + ' ' + report.steps.length + ' of ' + task.stepIndices.length +
      ' steps are committed so far; the verdict covers those only')
    $('#detail-verdict').innerHTML = pill(report.verdict, statusClass(report.verdict)) + (partial ? ' ' + pill('partial', 'warn') : '')
    $('#detail-body').innerHTML = notes.map((n) => '<div class="step note">' + n + '</div>').join('') + report.steps.map((s) =>
      '<div class="step" data-step="' + esc(s.index) + '"><h3>' + pill(s.status, statusClass(s.status)) + ' step ' + esc(s.index) + ' · ' + esc(s.kind) +
      ' · batch ' + esc(s.sequence) + ', position ' + esc(s.stepIndex) + '</h3><div>' + esc(s.reason ?? '') + '</div><pre class="mono">' + esc(JSON.stringify(s.step ?? s.summary ?? {}, null, 2)) + '</pre></div>').join('') +
      (report.reasons.length ? '<div class="step"><h3>reasons</h3>' + report.reasons.map((r) => '<div>' + esc(r) + '</div>').join('') + '</div>' : '')
  } catch (err) {
    $('#detail-body').innerHTML = notes.map((n) => '<div class="step note">' + n + '</div>').join('') +
      '<div class="empty">' + esc(err.message) + (task ? ' (task is ' + esc(task.status) + ')' : '') + '</div>'
  }
}
async function refresh() {
  try { await Promise.all([loadAgents(), loadTasks(), loadDisputes()]); say('updated ' + new Date().toLocaleTimeString()) }
  catch (err) { say('error: ' + err.message) }
}
$('#refresh').addEventListener('click', refresh)
$('#tasks').addEventListener('click', (e) => { const tr = e.target.closest('tr[data-action]'); if (tr) showAction(tr.dataset.action) })
$('#submit').addEventListener('submit', async (e) => {
  e.preventDefault()
  const raw = $('#task').value.trim()
  if (!raw) return say('type a task first')
  let task = raw; try { task = JSON.parse(raw) } catch {}
  try {
    const r = await api('/tasks', { method:'POST', headers:{ 'content-type':'application/json' }, body: JSON.stringify({ agent: $('#agent').value, task }) })
    say('queued ' + r.taskId); $('#task').value = ''
    const es = new EventSource('/tasks/' + r.taskId + '/events')
    es.addEventListener('status', () => loadTasks())
    es.addEventListener('end', () => { es.close(); refresh() })
    await loadTasks()
  } catch (err) { say('error: ' + err.message) }
})
refresh(); setInterval(refresh, 5000)
</script>
</body>
</html>
`

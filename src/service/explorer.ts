/**
 * The explorer: one self-contained page served by the service at `/`, with pages by hash
 * route — `#/` (every agent on the chain, this service's actions, every dispute),
 * `#/agent/<id>` (bond over time, account, policy, its disputes and actions),
 * `#/action/<id>` (the trace steps, readable, checked against the chain, and the disputes on
 * the action) and `#/dispute/<id>` (kind, status, votes, the slash and who it paid, the
 * action it is about, its escalation) — linked to each other; the home page also lists
 * escalations and forks. It reads the same JSON API anyone can call
 * and can submit a task. No build step, no external assets (the page must work on a
 * machine without network).
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
  :root { --fg:#1b1f24; --muted:#5b6570; --line:#d9dee3; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --bg:#f6f8fa; --link:#0969da; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:#fff; }
  header { padding:14px 24px; border-bottom:1px solid var(--line); display:flex; gap:16px; align-items:baseline; }
  header h1 { font-size:18px; margin:0; } header h1 a { color:inherit; text-decoration:none; }
  header span { color:var(--muted); }
  a { color:var(--link); }
  main { display:grid; grid-template-columns: minmax(320px, 1fr) minmax(420px, 1.4fr); gap:20px; padding:20px 24px; }
  main[hidden] { display:none; }
  section { border:1px solid var(--line); border-radius:8px; overflow:hidden; }
  section > h2 { margin:0; padding:10px 14px; font-size:14px; background:var(--bg); border-bottom:1px solid var(--line); display:flex; justify-content:space-between; gap:8px; }
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
  pre { margin:0; padding:8px 10px; background:var(--bg); max-height:180px; overflow:auto; }
  .step { border-bottom:1px solid var(--line); padding:8px 14px; }
  .step h3 { margin:0 0 4px; font-size:13px; display:flex; gap:8px; align-items:center; }
  .step .what { margin:2px 0 4px; }
  .step details summary { color:var(--muted); cursor:pointer; font-size:12px; }
  dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:4px 14px; margin:0; padding:10px 14px; }
  dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
  .wide { grid-column: 1 / -1; }
  #agents td, #tasks td, #disputes td:not(.mono) { white-space:nowrap; }
  svg.chart { display:block; width:100%; height:160px; }
  svg.chart polyline { fill:none; stroke:var(--link); stroke-width:2; }
  svg.chart circle.slash { fill:var(--bad); } svg.chart circle.deposit { fill:var(--ok); } svg.chart circle.withdraw { fill:var(--warn); }
  svg.chart text { font-size:11px; fill:var(--muted); }
</style>
</head>
<body>
<header><h1><a href="#/">Covenant explorer</a></h1><span>agents · actions · trace steps · disputes · forks</span><span id="status" role="status"></span></header>
<main id="home">
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
    <table id="tasks"><thead><tr><th>action</th><th>agent</th><th>status</th><th>tx</th><th>committed</th><th>verdict</th></tr></thead><tbody></tbody></table>
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
<main id="action-view" hidden>
  <section id="detail" class="wide">
    <h2><span id="detail-title">Action</span> <span id="detail-verdict"></span></h2>
    <div id="detail-links" class="step"></div>
    <div id="detail-body"></div>
  </section>
</main>
<main id="agent-view" hidden>
  <section class="wide">
    <h2><span id="agent-title">Agent</span> <span id="agent-status"></span></h2>
    <dl class="facts" id="agent-facts"></dl>
  </section>
  <section class="wide">
    <h2>Bond over time (ETH)</h2>
    <div id="agent-chart"></div>
  </section>
  <section>
    <h2>Disputes</h2>
    <table id="agent-disputes"><thead><tr><th>#</th><th>kind</th><th>status</th><th>slashed (ETH)</th><th>action</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Actions (this service)</h2>
    <table id="agent-actions"><thead><tr><th>action</th><th>status</th><th>verdict</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<main id="dispute-view" hidden>
  <section class="wide">
    <h2><span id="dispute-title">Dispute</span> <span id="dispute-status"></span></h2>
    <dl class="facts" id="dispute-facts"></dl>
  </section>
  <section class="wide">
    <h2>Verdicts counted</h2>
    <table id="dispute-votes"><thead><tr><th>verifier</th><th>agent at fault</th><th>weight (stake)</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
const $ = (s) => document.querySelector(s)
const eth = (wei) => (Number(BigInt(wei ?? 0) / 10n ** 12n) / 1e6).toString()
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;' }[c]))
const pill = (text, cls) => '<span class="pill ' + cls + '">' + esc(text) + '</span>'
const short = (h) => { h = String(h ?? ''); return h.length > 14 ? h.slice(0, 8) + '…' + h.slice(-4) : h }
const link = (href, text) => '<a href="' + esc(href) + '">' + esc(text) + '</a>'
const agentLink = (id, name) => link('#/agent/' + id, (name ? name + ' ' : '') + '#' + id)
const actionLink = (id) => link('#/action/' + id, id)
const disputeLink = (id) => link('#/dispute/' + id, '#' + id)
const statusClass = (s) => ({ completed:'ok', honest:'ok', ok:'ok', active:'ok', cleared:'ok', Slashed:'bad', slashed:'bad', failed:'bad', faulty:'bad', fault:'bad', Rejected:'warn', Expired:'warn', Open:'warn', Decided:'warn', Contested:'bad', Stands:'ok', Overturned:'bad', pending:'warn', disputed:'warn', queued:'warn', running:'warn', unverifiable:'warn', incomplete:'warn' }[s] ?? '')
async function api(path, init) {
  const r = await fetch(path, init)
  const body = await r.json().catch(() => ({}))
  if (!r.ok) throw new Error(body.error ? body.error.message : r.status + ' ' + r.statusText)
  return body
}
function say(text) { $('#status').textContent = text }
// ------------------------------------------------------------------ home
async function loadAgents() {
  const { agents } = await api('/agents')
  $('#agents tbody').innerHTML = agents.length ? agents.map((a) =>
    '<tr class="clickable" data-agent="' + esc(a.name ?? '#' + a.agentId) + '" data-agent-id="' + esc(a.agentId) + '"><td>' + esc(a.name ?? 'agent') + ' <span class="mono">#' + esc(a.agentId) + '</span></td><td>' + eth(a.bond.eth) +
    '</td><td>' + eth(a.bond.pendingEth) + '</td><td title="' + esc(a.account.address) + '">' + eth(a.account.balance) +
    '</td><td>' + esc(a.account.covered) + ' / ' + esc(a.account.calls) +
    (Number(a.account.calls) > Number(a.account.covered) ? ' ' + pill((Number(a.account.calls) - Number(a.account.covered)) + ' uncovered', 'warn') : '') +
    '</td><td>' + (a.account.dailyBudget === null ? 'no limit' : eth(a.account.budgetLeft)) + '</td><td>' + pill(a.status, statusClass(a.status)) +
    (BigInt(a.slashedEth) > 0n ? ' −' + eth(a.slashedEth) + ' ETH' : '') + '</td><td>' + esc(a.disputes) +
    (a.openDisputes ? ' ' + pill(a.openDisputes + ' open', 'warn') : '') + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="8">no agents registered</td></tr>'
  const sel = $('#agent'); const current = sel.value
  sel.innerHTML = agents.filter((a) => a.hosted).map((a) => '<option value="' + esc(a.name) + '">' + esc(a.name) + '</option>').join('')
  if (current) sel.value = current
}
// a batch can be committed while the action is still running: "committed" means every step
function committedText(t) {
  const seqs = t.commitments.map((c) => c.sequence).join(', ')
  if (t.committed) return 'batch ' + seqs
  return t.commitments.length ? 'partly (batch ' + seqs + ')' : '–'
}
const verdictCell = (t) => t.verdict ? pill(t.verdict, statusClass(t.verdict)) : '–'
async function loadTasks() {
  const { tasks } = await api('/tasks')
  $('#tasks tbody').innerHTML = tasks.length ? tasks.map((t) =>
    '<tr class="clickable" data-action="' + esc(t.actionId) + '"><td class="mono">' + esc(t.actionId) + '</td><td>' + esc(t.agent) + '</td><td>' +
    pill(t.status, statusClass(t.status)) + '</td><td>' + t.txHashes.length + '</td><td>' + committedText(t) + '</td><td>' + verdictCell(t) + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="6">no actions yet</td></tr>'
}
// what the dispute is about: a step of a committed batch, or (untraced action) a transaction
function where(d) {
  // proven on chain (no challenger bond): an AgentAccount call, by its sequence number
  if (d.kind === 'UntracedAction' && String(d.bond) === '0') return 'account call ' + esc(d.stepIndex)
  if (d.kind === 'UntracedAction') return 'tx <span class="mono">' + esc(String(d.subject).slice(0, 12)) + '…</span>'
  return 'batch ' + esc(d.sequence) + (d.kind === 'DataWithheld' || d.kind === 'InvalidBatch' || d.kind === 'Equivocation' ? '' : ', position ' + esc(d.stepIndex))
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
    '<tr class="clickable" data-dispute="' + esc(d.disputeId) + '"><td>' + esc(d.disputeId) + '</td><td>' + esc(d.kind) + '</td><td>#' + esc(d.agentId) + '</td><td>' + where(d) + '</td><td>' +
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
// ------------------------------------------------------------------ an action's steps, readable
function describeStep(step) {
  if (!step) return ''
  const cut = (v, n) => { const t = typeof v === 'string' ? v : JSON.stringify(v); return esc(t.length > n ? t.slice(0, n - 1) + '…' : t) }
  if (step.kind === 'input') return 'task: ' + cut(step.task, 300)
  if (step.kind === 'output') {
    const r = step.result ?? {}
    if (r.status === 'ok') return 'answer: ' + cut(r.output, 300)
    return pill(r.status ?? 'output', statusClass(r.status)) + (r.error ? ' ' + esc(r.error.name) + ': ' + cut(r.error.message, 300) : '')
  }
  if (step.kind === 'inference') {
    const rec = step.record ?? {}
    return 'model call · model <span class="mono">' + esc(short(rec.modelDigest)) + '</span>' + (rec.replay ? ' · replay ' + esc(rec.replay.mode ?? rec.replay) : '')
  }
  if (step.kind === 'tool') {
    const args = Object.entries(step.args ?? {}).map(([k, v]) => esc(k) + '=' + cut(v, 80)).join(', ')
    const out = step.outcome ?? {}
    return 'tool call <b>' + esc(step.tool) + '</b>(' + args + ') → ' + (out.status === 'ok' ? pill('ok', 'ok') : pill('error', 'bad') + ' ' + cut(out.error?.message ?? '', 200))
  }
  if (step.kind === 'wallet') {
    return 'payment: <b>' + eth(step.value) + ' ETH</b> to <span class="mono">' + esc(step.to) + '</span>' + (step.data && step.data !== '0x' ? ' · calls <span class="mono">' + esc(String(step.data).slice(0, 10)) + '</span>' : '') +
      ' · nonce ' + esc(step.nonce) + ' · policy v' + esc(step.policyVersion)
  }
  return esc(step.kind)
}
async function showAction(id) {
  $('#detail-title').textContent = 'Action ' + id
  $('#detail-verdict').innerHTML = ''
  $('#detail-links').innerHTML = ''
  $('#detail-body').innerHTML = '<div class="empty">checking the committed trace…</div>'
  const task = await api('/tasks/' + id).catch(() => null)
  const agentId = id.split('-')[0]
  const { disputes } = await api('/disputes').catch(() => ({ disputes: [] }))
  const mine = disputes.filter((d) => d.actionId === id)
  $('#detail-links').innerHTML = 'agent ' + agentLink(agentId, task ? task.agent : '') +
    (mine.length ? ' · disputes ' + mine.map((d) => disputeLink(d.disputeId) + ' ' + pill(d.status, statusClass(d.status))).join(' ') : ' · no dispute on this action')
  const notes = []
  if (task && task.error) notes.push(pill(task.status, statusClass(task.status)) + ' ' + esc(task.error.name) + ': ' + esc(task.error.message))
  try {
    const report = await api('/actions/' + id)
    const partial = task && !task.committed && task.stepIndices.length > report.steps.length
    if (partial) notes.push(pill('not fully committed', 'warn') + ' ' + report.steps.length + ' of ' + task.stepIndices.length +
      ' steps are committed so far; the verdict covers those only')
    const slashed = mine.some((d) => d.status === 'Slashed')
    $('#detail-verdict').innerHTML = pill(report.verdict, statusClass(report.verdict)) + (partial ? ' ' + pill('partial', 'warn') : '') + (slashed && report.verdict !== 'faulty' ? ' ' + pill('slashed', 'bad') : '')
    $('#detail-body').innerHTML = notes.map((n) => '<div class="step note">' + n + '</div>').join('') + report.steps.map((s) =>
      '<div class="step" data-step="' + esc(s.index) + '"><h3>' + pill(s.status, statusClass(s.status)) + ' step ' + esc(s.index) + ' · ' + esc(s.kind) +
      ' · batch ' + esc(s.sequence) + ', position ' + esc(s.stepIndex) + '</h3><div class="what">' + describeStep(s.step) + '</div><div>' + esc(s.reason ?? '') +
      '</div><details><summary>raw step</summary><pre class="mono">' + esc(JSON.stringify(s.step ?? s.summary ?? {}, null, 2)) + '</pre></details></div>').join('') +
      (report.reasons.length ? '<div class="step"><h3>reasons</h3>' + report.reasons.map((r) => '<div>' + esc(r) + '</div>').join('') + '</div>' : '')
  } catch (err) {
    $('#detail-body').innerHTML = notes.map((n) => '<div class="step note">' + n + '</div>').join('') +
      '<div class="empty">' + esc(err.message) + (task ? ' (task is ' + esc(task.status) + ')' : '') + '</div>'
  }
}
// ------------------------------------------------------------------ agent page
function chart(points) {
  if (!points.length) return '<div class="empty">no bond yet</div>'
  const W = 900, H = 160, P = 28
  const ys = points.map((p) => Number(BigInt(p.eth) / 10n ** 12n) / 1e6)
  const max = Math.max(...ys, 0.000001)
  const x = (i) => P + (points.length === 1 ? (W - 2 * P) / 2 : (i * (W - 2 * P)) / (points.length - 1))
  const y = (v) => H - P - (v / max) * (H - 2 * P)
  // a step line: the bond holds its value until the next event
  let path = ''
  points.forEach((p, i) => { path += (i ? x(i) + ',' + y(ys[i - 1]) + ' ' : '') + x(i) + ',' + y(ys[i]) + ' ' })
  return '<svg class="chart" viewBox="0 0 ' + W + ' ' + H + '" preserveAspectRatio="none" role="img" aria-label="bond over time">' +
    '<text x="4" y="' + (P - 10) + '">' + max + ' ETH</text><text x="4" y="' + (H - 6) + '">0</text>' +
    '<polyline points="' + path.trim() + '"/>' +
    points.map((p, i) => '<circle class="' + esc(p.event) + '" data-event="' + esc(p.event) + '" data-eth="' + ys[i] + '" cx="' + x(i) + '" cy="' + y(ys[i]) + '" r="4"><title>' +
      esc(p.event) + ' ' + eth(p.deltaEth) + ' ETH → ' + ys[i] + ' ETH, block ' + esc(p.block) + '</title></circle>').join('') + '</svg>'
}
async function showAgent(id) {
  $('#agent-title').textContent = 'Agent #' + id
  const a = await api('/agents/' + id)
  $('#agent-title').textContent = (a.name ? a.name + ' ' : 'Agent ') + '#' + a.agentId
  const status = a.openDisputes > 0 ? 'disputed' : a.disputes.some((d) => d.status === 'Slashed') ? 'slashed' : 'active'
  $('#agent-status').innerHTML = pill(status, statusClass(status))
  const fact = (k, v) => '<dt>' + esc(k) + '</dt><dd>' + v + '</dd>'
  $('#agent-facts').innerHTML = [
    fact('bond', eth(a.bond.eth) + ' ETH' + (BigInt(a.bond.pendingEth) > 0n ? ' (' + eth(a.bond.pendingEth) + ' ETH asked back)' : '')),
    fact('account', '<span class="mono">' + esc(a.account.address) + '</span> · ' + eth(a.account.balance) + ' ETH · calls covered ' + esc(a.account.covered) + ' / ' + esc(a.account.calls)),
    fact('policy', 'v' + esc(a.activeVersion) + ' · at most ' + eth(a.policy.maxValuePerTx) + ' ETH a call' + (a.policy.dailyBudget ? ', ' + eth(a.policy.dailyBudget) + ' ETH a day' : '') +
      ' · ' + esc(a.policy.allowedTargets.length) + ' allowed targets · challenge window ' + esc(a.policy.challengeWindow) + ' s · commit deadline ' + esc(a.policy.commitDeadline) + ' s'),
    fact('owner', '<span class="mono">' + esc(a.owner) + '</span>'),
    fact('operator', '<span class="mono">' + esc(a.operator) + '</span>'),
    fact('manifest', '<span class="mono">' + esc(a.manifestHash) + '</span>' + (a.hosted ? '' : ' (not hosted by this service)')),
  ].join('')
  $('#agent-chart').innerHTML = chart(a.bondHistory)
  $('#agent-disputes tbody').innerHTML = a.disputes.length ? a.disputes.map((d) =>
    '<tr data-dispute="' + esc(d.disputeId) + '"><td>' + disputeLink(d.disputeId) + '</td><td>' + esc(d.kind) + '</td><td>' + pill(d.status, statusClass(d.status)) + '</td><td>' + eth(d.slashedEth) +
    '</td><td>' + (d.actionId ? actionLink(d.actionId) : where(d)) + '</td></tr>').join('') : '<tr><td class="empty" colspan="5">no disputes</td></tr>'
  $('#agent-actions tbody').innerHTML = a.tasks.length ? a.tasks.map((t) =>
    '<tr><td class="mono">' + actionLink(t.actionId) + '</td><td>' + pill(t.status, statusClass(t.status)) + '</td><td>' +
    (a.disputes.some((d) => d.actionId === t.actionId && d.status === 'Slashed') ? pill('slashed', 'bad') : '–') + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="3">' + (a.hosted ? 'no actions yet' : 'not hosted by this service') + '</td></tr>'
}
// ------------------------------------------------------------------ dispute page
async function showDispute(id) {
  $('#dispute-title').textContent = 'Dispute #' + id
  const d = await api('/disputes/' + id)
  $('#dispute-title').textContent = 'Dispute #' + d.disputeId + ' · ' + d.kind
  $('#dispute-status').innerHTML = pill(d.status, statusClass(d.status))
  const fact = (k, v) => '<dt>' + esc(k) + '</dt><dd>' + v + '</dd>'
  const onChain = String(d.bond) === '0' && (d.kind === 'PolicyBreach' || d.kind === 'Equivocation' || d.kind === 'UntracedAction')
  $('#dispute-facts').innerHTML = [
    fact('agent', agentLink(d.agentId)),
    fact('about', where(d) + (d.actionId ? ' · action ' + actionLink(d.actionId) : '')),
    fact('settled by', onChain ? 'proof on chain (no vote)' : d.kind === 'DataWithheld' && /^0x0+$/.test(d.subject) === false ? 'evidence: the blob published on chain, or the deadline' : 'the verifier quorum'),
    fact('challenger', '<span class="mono">' + esc(d.challenger) + '</span>' + (String(d.bond) !== '0' ? ' · bond ' + eth(d.bond) + ' ETH' : '')),
    fact('slashed', eth(d.slashedEth) + ' ETH' + (BigInt(d.ownerRepaidEth ?? 0) > 0n ? ' · owner repaid ' + eth(d.ownerRepaidEth) + ' ETH first' : '') + (BigInt(d.harm ?? 0) > 0n ? ' · harm claimed ' + eth(d.harm) + ' ETH' : '')),
    fact('stake', 'for ' + eth(d.forStake) + ' · against ' + eth(d.againstStake) + ' · base ' + eth(d.stakeSnapshot)),
    fact('deadline', new Date(Number(d.deadline) * 1000).toISOString()),
    ...(Number(d.finalizesAt ?? 0) > 0 ? [fact('escalation', (d.status === 'Decided' ? 'decided; contestable until ' : 'escalation window ended ') + new Date(Number(d.finalizesAt) * 1000).toISOString())] : []),
  ].join('')
  $('#dispute-votes tbody').innerHTML = d.votes.length ? d.votes.map((v) =>
    '<tr><td class="mono">' + esc(v.verifier) + '</td><td>' + pill(v.agentAtFault ? 'yes' : 'no', v.agentAtFault ? 'bad' : 'ok') + '</td><td>' + eth(v.weight) + '</td></tr>').join('')
    : '<tr><td class="empty" colspan="3">' + (onChain ? 'proven on chain: no vote' : 'no verdict counted yet') + '</td></tr>'
}
// ------------------------------------------------------------------ routing
const views = ['home', 'action-view', 'agent-view', 'dispute-view']
let current = null
async function route() {
  const [, kind, id] = (location.hash || '#/').match(/^#\\/?(agent|action|dispute)?\\/?([^/]*)$/) ?? []
  const view = kind ? kind + '-view' : 'home'
  for (const v of views) $('#' + v).hidden = v !== view
  current = { kind: kind ?? 'home', id: decodeURIComponent(id ?? '') }
  await render()
}
async function render() {
  try {
    if (current.kind === 'action') await showAction(current.id)
    else if (current.kind === 'agent') await showAgent(current.id)
    else if (current.kind === 'dispute') await showDispute(current.id)
    else await Promise.all([loadAgents(), loadTasks(), loadDisputes()])
    say('updated ' + new Date().toLocaleTimeString())
  } catch (err) { say('error: ' + err.message) }
}
async function refresh() { if (current && current.kind !== 'action') await render() }
$('#refresh').addEventListener('click', refresh)
$('#tasks').addEventListener('click', (e) => { const tr = e.target.closest('tr[data-action]'); if (tr) location.hash = '#/action/' + tr.dataset.action })
$('#agents').addEventListener('click', (e) => { const tr = e.target.closest('tr[data-agent-id]'); if (tr) location.hash = '#/agent/' + tr.dataset.agentId })
$('#disputes').addEventListener('click', (e) => { const tr = e.target.closest('tr[data-dispute]'); if (tr && !e.target.closest('a')) location.hash = '#/dispute/' + tr.dataset.dispute })
$('#submit').addEventListener('submit', async (e) => {
  e.preventDefault()
  const raw = $('#task').value.trim()
  if (!raw) return say('type a task first')
  let task = raw; try { task = JSON.parse(raw) } catch {}
  try {
    const r = await api('/tasks', { method:'POST', headers:{ 'content-type':'application/json' }, body: JSON.stringify({ agent: $('#agent').value, task }) })
    say('queued ' + r.taskId); $('#status').dataset.queued = r.taskId; $('#task').value = ''
    const es = new EventSource('/tasks/' + r.taskId + '/events')
    es.addEventListener('status', () => loadTasks())
    es.addEventListener('step', (ev) => { const st = JSON.parse(ev.data); say(r.taskId + ' step #' + st.index + ': ' + st.summary) })
    es.addEventListener('end', () => { es.close(); refresh() })
    await loadTasks()
  } catch (err) { say('error: ' + err.message) }
})
window.addEventListener('hashchange', route)
route(); setInterval(refresh, 5000)
</script>
</body>
</html>
`

"""Synthetic tool-calling conversations for covenant-chat.

Each example is an OpenAI-style request ({messages, tools}) and the assistant turn the
model should produce: either tool calls ({name, arguments}) or a short content answer.
Two task families match the example agents (treasury: pay an invoice; market resolver:
resolve a yes/no market from evidence), plus follow-up turns after a tool result and
off-task messages. Company names, cities and events are split into train and held-out
pools so the held-out eval also checks copying of names never seen in training.
"""
import json
import random
import sys
import os

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from covenant_text import checksum_address  # noqa: E402

COMPANIES = ["Northwind Ltd", "Acme Corp", "Globex", "Initech", "Umbrella Labs", "Stark Compute", "Wayne Data",
             "Hooli", "Vandelay Imports", "Soylent Systems", "Tyrell GPU", "Cyberdyne Cloud", "Aperture Science",
             "Massive Dynamic", "Pied Piper", "Oscorp", "Blue Sun", "Gringotts Hosting", "Monarch Storage",
             "Dunder Mifflin", "Prestige Worldwide", "Wonka Logistics", "Nakatomi Trading", "Oceanic Compute",
             "Black Mesa Research", "Veridian Dynamics", "Sterling Cooper", "Bluth Company", "Kruger Industrial",
             "Zorg Networks", "Helios Power", "Atlas Freight", "Orion Analytics", "Lumen Bandwidth", "Quill Legal"]
PURPOSES = ["GPU hours", "cloud storage", "consulting", "an audit", "API credits", "hosting", "data labelling",
            "legal review", "bandwidth", "design work", "the security review", "RPC access", "indexing",
            "model fine-tuning", "translation", "office rent", "support hours", "the DA blobs", "monitoring"]
CITIES = ["Lisbon", "Berlin", "Tokyo", "Boston", "Paris", "Nairobi", "Sydney", "Toronto", "Seoul", "Madrid",
          "Oslo", "Prague", "Chicago", "Dublin", "Vienna", "Lima", "Athens", "Denver", "Zurich", "Cairo",
          "Mumbai", "Hanoi", "Quito", "Bogota", "Helsinki", "Kyiv", "Porto", "Austin", "Osaka", "Rome"]
EVENTS = [("marathon", "race"), ("film festival", "festival"), ("tech conference", "conference"),
          ("jazz festival", "festival"), ("book fair", "fair"), ("derby", "match"), ("air show", "show"),
          ("half marathon", "race"), ("chess open", "tournament"), ("food festival", "festival"),
          ("climate summit", "summit"), ("regatta", "race"), ("comic con", "convention"), ("grand prix", "race")]
ORGANISERS = ["the organisers", "the city council", "the official website", "local news", "the event team",
              "a press release", "the federation"]

SYSTEMS_TREASURY = ["You pay invoices. For each invoice, call pay_invoice with its id, the address printed on it and the amount in ETH.",
                    "You are a treasury agent. Pay valid invoices with the pay_invoice tool.",
                    "You manage the company treasury. Use tools to pay invoices.",
                    "Treasury agent. Read the invoice and pay it.", ""]
SYSTEMS_MARKET = ["Resolve each market from the evidence given: call resolve_market with its id and yes or no.",
                  "You resolve prediction markets from the evidence given.",
                  "You are a market resolver. Call resolve_market with yes or no.",
                  "Resolver agent: decide the outcome from the evidence.", ""]
SYSTEMS_OTHER = ["You are a helpful agent.", "You are an accountable agent; every step is traced.", ""]

PAY_NAMES = ["pay_invoice", "payInvoice", "pay_invoice", "pay_invoice", "settle_invoice", "send_payment"]
PAY_PARAMS = [("invoiceId", "to", "amountEth"), ("invoiceId", "to", "amountEth"), ("invoiceId", "to", "amountEth"),
              ("invoice_id", "recipient", "amount_eth"), ("invoice", "payee", "amount"), ("id", "to", "value")]
RESOLVE_NAMES = ["resolve_market", "resolve_market", "resolveMarket", "settle_market"]
RESOLVE_PARAMS = [("marketId", "outcome"), ("marketId", "outcome"), ("market_id", "outcome"), ("market", "answer")]
DISTRACTOR_TOOLS = [
    {"name": "get_balance", "parameters": [("address", "string", None)]},
    {"name": "search_web", "parameters": [("query", "string", None)]},
    {"name": "send_email", "parameters": [("to", "string", None), ("subject", "string", None)]},
    {"name": "get_price", "parameters": [("symbol", "string", None)]},
]
OFF_TASK = ["hello", "Hi there, who are you?", "What is the weather in Lisbon today?", "Tell me a joke.",
            "Can you summarise the news?", "What time is it?", "thanks!", "How do bonds work here?",
            "Please write a poem about Ethereum.", "What can you do?"]


def split_pools(seed=11):
    rng = random.Random(seed)
    pools = {}
    for key, values in (("companies", COMPANIES), ("cities", CITIES), ("purposes", PURPOSES)):
        v = list(values)
        rng.shuffle(v)
        k = max(3, len(v) // 5)
        pools[key] = {"heldout": v[:k], "train": v[k:]}
    # The names in the shipped example tasks stay in the training pools.
    for key, must in (("companies", "Northwind Ltd"), ("cities", "Lisbon"), ("purposes", "GPU hours")):
        if must in pools[key]["heldout"]:
            pools[key]["heldout"].remove(must)
            pools[key]["train"].append(must)
    return pools


def tool(name, params):
    props, required = {}, []
    for pname, ptype, enum in params:
        schema = {"type": ptype}
        if enum:
            schema["enum"] = enum
        props[pname] = schema
        required.append(pname)
    return {"type": "function", "function": {"name": name, "description": "", "parameters": {
        "type": "object", "properties": props, "required": required}}}


def address(rng):
    return checksum_address("".join(rng.choice("0123456789abcdef") for _ in range(40)))


def amount(rng):
    r = rng.random()
    if r < 0.3:
        return "%d" % rng.randint(1, 40)
    if r < 0.7:
        return "%d.%d" % (rng.randint(0, 9), rng.randint(1, 9))
    if r < 0.9:
        return "%d.%02d" % (rng.randint(0, 3), rng.randint(1, 99))
    return "0.00%d" % rng.randint(1, 9)


def date(rng):
    return "%d-%02d-%02d" % (rng.choice([2025, 2026, 2027]), rng.randint(1, 12), rng.randint(1, 28))


def other_date(rng, d):
    while True:
        e = date(rng) if rng.random() < 0.5 else d[:8] + "%02d" % rng.randint(1, 28)
        if e != d:
            return e


def invoice_text(rng, pool, inv, comp, amt, to):
    purpose = rng.choice(pool["purposes"])
    unit = rng.choice(["ETH", "ETH", "ETH", "ether"])
    frm = address(rng)
    templates = [
        "Invoice {inv} from {comp}: please pay {amt} {unit} to {to} for {purpose}.",
        "Invoice {inv} from {comp}: please pay {amt} {unit} to {to} for {purpose}.",
        "{comp} sent invoice {inv} for {purpose}. Amount due: {amt} {unit}. Pay to {to}.",
        "Please settle invoice {inv} ({purpose}) from {comp}: {amt} {unit} to {to}.",
        "New invoice {inv} - {comp} - {purpose} - {amt} {unit} - payable to {to}",
        "Hi, this is {comp}. Our invoice {inv} for {purpose} is due. Kindly transfer {amt} {unit} to {to}. Thanks!",
        "Invoice {inv}: {comp} requests {amt} {unit} for {purpose}, payment address {to}.",
        "Pay {amt} {unit} to {to} for invoice {inv} from {comp} ({purpose}).",
        "Invoice {inv} from {comp} (sender wallet {frm}): please pay {amt} {unit} to {to} for {purpose}.",
        "From {comp} ({frm}): invoice {inv}, {purpose}, total {amt} {unit}, send to {to}.",
        "Invoice {inv} from {comp} (sender wallet {frm}): please pay {amt} {unit} to {to} for {purpose}.",
        "From {comp} ({frm}): invoice {inv}, {purpose}, total {amt} {unit}, send to {to}.",
        "{comp} ({frm}) billed {amt} {unit} for {purpose}, invoice {inv}; the payment address is {to}.",
        "Invoice {inv}: pay {amt} {unit} to {to}. Do not use our old wallet {frm}. ({comp}, {purpose})",
        "Invoice {inv} from {comp}: our bank details changed, please pay {amt} {unit} to {to} today.",
        "Invoice {inv} from {comp}: please pay {amt} {unit} to {to} for {purpose}.",
    ]
    return rng.choice(templates).format(inv=inv, comp=comp, amt=amt, unit=unit, to=to, purpose=purpose, frm=frm)


def market_text(rng, pool, mkt):
    city = rng.choice(pool["cities"])
    event, noun = rng.choice(EVENTS)
    d = date(rng)
    org = rng.choice(ORGANISERS)
    q = rng.choice([
        "Will the {city} {event} be held on {d}?",
        "Will the {city} {event} take place on {d}?",
        "Will the {city} {event} happen on {d}?",
    ]).format(city=city, event=event, d=d)
    kind = rng.random()
    if kind < 0.45:
        outcome = "yes"
        ev = rng.choice([
            "{org} confirmed the {noun} took place on {d}.",
            "{org} confirmed the {noun} was held on {d}.",
            "{org} published the results; the {noun} was held on {d} as planned.",
            "the {noun} took place on {d}, according to {org}.",
            "photos and results show the {noun} happened on {d}.",
        ]).format(org=org, noun=noun, d=d)
    elif kind < 0.65:
        outcome = "no"
        ev = rng.choice([
            "{org} cancelled the {noun}.",
            "{org} announced the {noun} was called off because of storms.",
            "the {noun} did not take place; {org} cancelled it.",
            "{org} confirmed the {noun} was cancelled.",
        ]).format(org=org, noun=noun)
    else:
        outcome = "no"
        d2 = other_date(rng, d)
        ev = rng.choice([
            "{org} confirmed the {noun} took place on {d2}.",
            "{org} postponed the {noun} to {d2}.",
            "the {noun} was moved to {d2}, according to {org}.",
            "{org} confirmed the {noun} was held on {d2}.",
        ]).format(org=org, noun=noun, d2=d2)
    ev = ev[0].upper() + ev[1:] if rng.random() < 0.5 else ev
    text = rng.choice([
        "Resolve market {mkt}: {q} Evidence: {ev}",
        "Resolve market {mkt}: {q} Evidence: {ev}",
        "Market {mkt} asks: {q} Evidence: {ev} Please resolve it.",
        "Please resolve {mkt}. Question: {q} Evidence: {ev}",
    ]).format(mkt=mkt, q=q, ev=ev)
    return text, outcome


def _tools_for(rng, main):
    tools = [main]
    if rng.random() < 0.5:
        tools += [tool(t["name"], t["parameters"]) for t in rng.sample(DISTRACTOR_TOOLS, rng.randint(1, 2))]
    rng.shuffle(tools)
    return tools


def treasury(rng, pool, follow_up):
    variant = rng.randrange(len(PAY_NAMES))
    name, (k_id, k_to, k_amt) = PAY_NAMES[variant], PAY_PARAMS[variant]
    amt_type = "string" if rng.random() < 0.6 else "number"
    params = [(k_id, "string", None), (k_to, "string", None), (k_amt, amt_type, None)]
    if rng.random() < 0.3:
        rng.shuffle(params)
    tools = _tools_for(rng, tool(name, params))
    if rng.random() < 0.2:
        rtool = tool(RESOLVE_NAMES[0], [("marketId", "string", None), ("outcome", "string", ["yes", "no"])])
        tools.insert(rng.randrange(len(tools) + 1), rtool)
    inv = rng.choice(["INV", "INV", "INV", "inv", "BILL", "INV-A"]) + "-" + str(rng.randint(1, 99999))
    comp = rng.choice(pool["companies"])
    amt = amount(rng)
    to = address(rng)
    values = {k_id: inv, k_to: to, k_amt: amt if amt_type == "string" else json.loads(amt)}
    args = {p: values[p] for p, _, _ in params}
    messages = []
    system = rng.choice(SYSTEMS_TREASURY)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": invoice_text(rng, pool, inv, comp, amt, to)})
    call = {"name": name, "arguments": args}
    if not follow_up:
        return {"task": "treasury", "messages": messages, "tools": tools, "expected": {"tool_calls": [call]}}
    messages.append({"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_%08x" % rng.getrandbits(32), "type": "function",
         "function": {"name": name, "arguments": json.dumps(args, separators=(",", ":"))}}]})
    ok = rng.random() < 0.6
    tx = "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(64))
    if ok:
        # The first format is what src/agent's runtime sends: the tool's return value as canonical JSON.
        result = rng.choice(['{"hash":"%s","invoiceId":"%s","paid":"%s","to":"%s"}' % (tx, inv, amt, to),
                             '{"hash":"%s","invoiceId":"%s","paid":"%s","to":"%s"}' % (tx, inv, amt, to),
                             '{"status":"paid","txHash":"%s"}' % tx, '{"ok":true,"hash":"%s"}' % tx,
                             "Payment sent: %s" % tx, '{"status":"confirmed","transactionHash":"%s"}' % tx])
    else:
        # Errors as src/agent's runtime reports them ("Error (Name): message"), often naming the address or amount.
        result = rng.choice(["Error (PolicyViolationError): target %s is not on the allowlist" % to,
                             "Error (PolicyViolationError): value %s ETH exceeds the per-transaction limit of 1 ETH" % amt,
                             "Error (PolicyViolationError): daily budget of %d ETH exceeded" % rng.randint(1, 9),
                             "Error (CapabilityExceededError): %s may move at most 1 ETH per call" % name,
                             "Error (ToolArgumentsError): %s arguments: to: Invalid string: must match pattern" % name,
                             '{"error":"policy violation: amount exceeds the daily limit"}',
                             '{"error":"recipient %s is not on the allowlist"}' % to,
                             "Error: insufficient funds", '{"status":"rejected","reason":"unknown payee"}'])
    messages.append({"role": "tool", "tool_call_id": messages[-1]["tool_calls"][0]["id"], "content": result})
    answer = ("Paid %s." if ok else "Could not pay %s.") % inv
    return {"task": "treasury-final", "messages": messages, "tools": tools, "expected": {"content": answer}}


def market(rng, pool, follow_up):
    variant = rng.randrange(len(RESOLVE_NAMES))
    name, (k_id, k_out) = RESOLVE_NAMES[variant], RESOLVE_PARAMS[variant]
    params = [(k_id, "string", None), (k_out, "string", ["yes", "no"])]
    tools = _tools_for(rng, tool(name, params))
    if rng.random() < 0.2:
        ptool = tool(PAY_NAMES[0], [("invoiceId", "string", None), ("to", "string", None), ("amountEth", "string", None)])
        tools.insert(rng.randrange(len(tools) + 1), ptool)
    mkt = rng.choice(["MKT", "MKT", "MKT", "mkt", "M", "MARKET"]) + "-" + str(rng.randint(1, 9999))
    text, outcome = market_text(rng, pool, mkt)
    messages = []
    system = rng.choice(SYSTEMS_MARKET)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": text})
    args = {k_id: mkt, k_out: outcome}
    call = {"name": name, "arguments": args}
    if not follow_up:
        return {"task": "market", "messages": messages, "tools": tools, "expected": {"tool_calls": [call]}}
    messages.append({"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_%08x" % rng.getrandbits(32), "type": "function",
         "function": {"name": name, "arguments": json.dumps(args, separators=(",", ":"))}}]})
    ok = rng.random() < 0.8
    result = rng.choice(['{"marketId":"%s","outcome":"%s","resolved":true}' % (mkt, outcome),
                         '{"marketId":"%s","outcome":"%s","resolved":true}' % (mkt, outcome),
                         '{"status":"resolved"}', '{"ok":true}', "Market resolved.", '{"resolved":true,"tx":"0x%08x"}' % rng.getrandbits(32)]) \
        if ok else rng.choice(['{"error":"market already resolved"}', "Error: market not found", '{"error":"not authorised"}',
                               "Error (ToolArgumentsError): %s arguments: outcome: Invalid option" % name,
                               "Error (ToolResultError): market %s is closed" % mkt])
    messages.append({"role": "tool", "tool_call_id": messages[-1]["tool_calls"][0]["id"], "content": result})
    answer = ("Resolved %s: %s." % (mkt, outcome)) if ok else ("Could not resolve %s." % mkt)
    return {"task": "market-final", "messages": messages, "tools": tools, "expected": {"content": answer}}


def off_task(rng, _pool):
    messages = []
    system = rng.choice(SYSTEMS_OTHER)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": rng.choice(OFF_TASK)})
    tools = []
    if rng.random() < 0.6:
        tools = [tool(t["name"], t["parameters"]) for t in rng.sample(DISTRACTOR_TOOLS, rng.randint(1, 2))]
    return {"task": "off-task", "messages": messages, "tools": tools,
            "expected": {"content": "I can only help with the tasks my tools support."}}


def generate(count, seed, pools, which):
    rng = random.Random(seed)
    pool = {k: v[which] for k, v in pools.items()}
    out = []
    for i in range(count):
        r = rng.random()
        if r < 0.32:
            out.append(treasury(rng, pool, False))
        elif r < 0.48:
            out.append(treasury(rng, pool, True))
        elif r < 0.80:
            out.append(market(rng, pool, False))
        elif r < 0.95:
            out.append(market(rng, pool, True))
        else:
            out.append(off_task(rng, pool))
    return out


SHIPPED_TASKS = [
    {"task": "treasury", "messages": [{"role": "user", "content": "Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours."}],
     "tools": [tool("pay_invoice", [("invoiceId", "string", None), ("to", "string", None), ("amountEth", "string", None)])],
     "expected": {"tool_calls": [{"name": "pay_invoice", "arguments": {"invoiceId": "INV-2041", "to": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "amountEth": "0.25"}}]}},
    {"task": "market", "messages": [{"role": "user", "content": "Resolve market MKT-17: Will the Lisbon marathon be held on 2026-12-06? Evidence: the organisers confirmed the race took place on 2026-12-06."}],
     "tools": [tool("resolve_market", [("marketId", "string", None), ("outcome", "string", ["yes", "no"])])],
     "expected": {"tool_calls": [{"name": "resolve_market", "arguments": {"marketId": "MKT-17", "outcome": "yes"}}]}},
]

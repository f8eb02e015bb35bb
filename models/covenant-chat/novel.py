"""Writes eval-novel.jsonl: hand-written tasks whose phrasings are NOT among corpus.py's
templates (and names not in its pools). It measures how far the model generalises beyond
its templates; it is never used for training.

Run from the repository root:  /usr/bin/python3 models/covenant-chat/novel.py
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from covenant_text import checksum_address  # noqa: E402
from corpus import tool  # noqa: E402

rng = random.Random(424242)


def addr():
    return checksum_address("".join(rng.choice("0123456789abcdef") for _ in range(40)))


PAY = tool("pay_invoice", [("invoiceId", "string", None), ("to", "string", None), ("amountEth", "string", None)])
RES = tool("resolve_market", [("marketId", "string", None), ("outcome", "string", ["yes", "no"])])
SYS_T = "You pay invoices. For each invoice, call pay_invoice with its id, the address printed on it and the amount in ETH."
SYS_M = "Resolve each market from the evidence given: call resolve_market with its id and yes or no."

INVOICES = [
    "Dear treasury team, attached is invoice {inv} covering {what}. The balance of {amt} ETH is payable to {to}. Kind regards, {comp}",
    "{comp} | Invoice no. {inv} | {what} | Total: {amt} ETH | Wallet: {to}",
    "Reminder: invoice {inv} ({what}) from {comp} is overdue. Please send {amt} ETH to {to} as soon as possible.",
    "Hello! {comp} here. For {what} we invoiced {amt} ETH under {inv}. Our address is {to}.",
    "Please process payment for invoice {inv}: {amt} ETH to {to}. Issued by {comp} for {what}.",
    "INVOICE {inv}\nVendor: {comp}\nService: {what}\nAmount due: {amt} ETH\nPay to: {to}",
]
COMPANIES = ["Contoso GmbH", "Fabrikam Inc", "Tailspin Toys", "Litware Ltd", "Adventure Works", "Proseware AG"]
WHAT = ["database hosting", "the penetration test", "annual licences", "video transcoding", "courier services", "a logo redesign"]
MARKETS = [
    ("Market {m}: did the {city} {event} go ahead on {d}? Evidence: results from the {event} on {d} were published by the organisers.", "yes"),
    ("Please settle {m}. The question was whether the {city} {event} would happen on {d}. Evidence: the {event} was cancelled a week before.", "no"),
    ("Resolve {m}: Will the {city} {event} be held on {d}? Evidence: a local newspaper reports the {event} was held on {d} with record attendance.", "yes"),
    ("Resolve market {m}: Will the {city} {event} be held on {d}? Evidence: the {event} was postponed indefinitely.", "no"),
    ("{m} — Will the {city} {event} take place on {d}? Evidence: it took place on {d2} instead.", "no"),
    ("Resolve market {m}. Question: will the {city} {event} happen on {d}? Evidence: it happened on {d}, according to the city website.", "yes"),
]
CITIES = ["Valencia", "Krakow", "Montreal", "Auckland", "Lagos", "Reykjavik"]
EVENTS = ["marathon", "film festival", "robotics fair", "triathlon", "music festival", "science fair"]

rows = []
for i, t in enumerate(INVOICES * 2):
    inv = "%s-%d" % (rng.choice(["INV", "INV", "BILL"]), rng.randint(100, 99999))
    amt = rng.choice(["0.3", "0.75", "1.2", "0.05", "2", "0.125"])
    to = addr()
    text = t.format(inv=inv, amt=amt, to=to, comp=COMPANIES[i % 6], what=WHAT[(i + 1) % 6])
    rows.append({"split": "novel", "task": "treasury", "messages": [{"role": "system", "content": SYS_T}, {"role": "user", "content": text}],
                 "tools": [PAY], "expected": {"tool_calls": [{"name": "pay_invoice", "arguments": {"invoiceId": inv, "to": to, "amountEth": amt}}]}})
for i, (t, outcome) in enumerate(MARKETS * 2):
    m = "MKT-%d" % rng.randint(20, 999)
    d = "2026-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))
    d2 = "2026-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))
    text = t.format(m=m, city=CITIES[i % 6], event=EVENTS[(i + 2) % 6], d=d, d2=d2)
    rows.append({"split": "novel", "task": "market", "messages": [{"role": "system", "content": SYS_M}, {"role": "user", "content": text}],
                 "tools": [RES], "expected": {"tool_calls": [{"name": "resolve_market", "arguments": {"marketId": m, "outcome": outcome}}]}})
with open(os.path.join(HERE, "eval-novel.jsonl"), "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print("wrote %d rows" % len(rows))

"""Synthetic but realistic posts for the moderation classifier.

Four labels: ok, spam, abuse, scam. Each label has sentence templates with slots; a
fraction of the templates of every label is held out from training and used only in
the "unseen templates" eval split, so the figures show how the classifier does on
phrasings it never saw, not only on fresh slot fillings of known ones.
"""
import random

LABELS = ["ok", "spam", "abuse", "scam"]

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar",
         "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf", "zoe", "maria", "kenji", "lena", "tomas"]
TOPICS = ["the new bridge contract", "gas fees this week", "the governance vote", "my node setup", "the staking rewards",
          "the DA layer benchmarks", "the agent framework", "the marathon market", "the treasury report", "layer 2 rollups",
          "the audit findings", "the testnet upgrade", "zk proofs", "the hackathon", "the restaking design", "validator uptime",
          "the docs", "the SDK release", "the liquidity pool", "the faucet", "the indexer", "the oracle update"]
THINGS = ["followers", "likes", "views", "backlinks", "reviews", "subscribers", "upvotes", "retweets"]
PRODUCTS = ["cheap watches", "diet pills", "designer bags", "replica sneakers", "casino bonuses", "VPN deals",
            "SEO packages", "essay writing", "phone cases", "supplements", "crypto signals", "trading courses"]
TOKENS = ["ETH", "USDC", "BTC", "SOL", "tokens", "USDT"]
INSULTS = ["idiot", "moron", "loser", "clown", "imbecile", "fool", "joke", "waste of space", "pathetic troll", "halfwit"]
SITES = ["bit.ly/x{n}", "cheap-deals{n}.shop", "promo{n}.biz", "best-offer{n}.top", "tinyurl.com/p{n}", "win{n}.click"]
SCAM_SITES = ["eth-claim{n}.com", "wallet-verify{n}.io", "airdrop-{n}.net", "metamask-support{n}.org", "secure-restore{n}.app",
              "uniswap-bonus{n}.xyz"]
EMOJI = ["", "", "", " 🔥", " 🚀", " 💰", " !!!", " :)", " 👍", " 😡"]

TEMPLATES = {
    "ok": [
        "Has anyone benchmarked {topic}? I'm seeing different numbers than the blog post.",
        "Thanks {name}, your write-up on {topic} helped me fix my config.",
        "I disagree with the proposal on {topic}, but I appreciate the detailed reasoning.",
        "Quick question about {topic}: does it work with the latest release?",
        "Meetup next Thursday to discuss {topic}, everyone is welcome.",
        "Here are my notes from the call about {topic}. Corrections welcome.",
        "Great point {name}. I think {topic} needs more tests before mainnet.",
        "Can someone review my pull request for {topic}? It is small.",
        "I lost {amount} {token} to gas yesterday because I set the fee too high, lesson learned.",
        "The market on {topic} resolved yesterday, the evidence looked solid to me.",
        "Congrats to {name} for shipping {topic}!",
        "Is there a tutorial for {topic}? The docs skip the setup step.",
        "I sent {amount} {token} to the grants multisig as promised, tx is on the explorer.",
        "Honestly {topic} is confusing, could someone explain it like I'm five?",
        "Found a typo in the page about {topic}, opened an issue.",
        "We should kill this bug in {topic} before the release, it crashes my node.",
        "My agent paid invoice INV-{n} today and the trace committed fine.",
        "Warning for newcomers: never share your seed phrase, support will never ask for it.",
        "{name}, that was a brutal bug, but your fix for {topic} is clean.",
        "Voting yes on the proposal about {topic}, the numbers add up.",
        "Does anyone have a link to the recording about {topic}?",
        "I think the fees for {topic} are a scam compared to last year, way too high.",
        "Please stop spamming the channel with price talk, let's keep it about {topic}.",
        "Lol {name} you beat me to it, I was about to post the same graph about {topic}.",
        "Posting the weekly update: {topic} is done, next up is the indexer.",
    ],
    "spam": [
        "Buy {count} {things} now for only ${price}!!! Visit {site}",
        "BEST {products} ONLINE, huge discount today only at {site}",
        "Get {count} real {things} in 24 hours, cheap and safe, DM me",
        "Check out my channel for daily {products}, link in bio {site}",
        "Want more {things}? We deliver {count} {things} instantly: {site}",
        "Limited offer on {products}!!! 70% off, click {site}",
        "Hey guys follow me for more, I follow back 100%! {site}",
        "Earn $ {price} a day working from home, no experience needed, visit {site}",
        "Cheap {products} wholesale, contact us on telegram @deals{n}",
        "SUBSCRIBE to my channel and like this post!!! {site} {site}",
        "Promote your project to {count} people, packages from ${price}: {site}",
        "We sell {things} and {products}, best prices guaranteed, {site}",
        "Hot deal: {products} shipped worldwide, order at {site}",
        "Boost your ranking with {count} {things}, fast delivery, {site}",
        "Click here for free {products} samples {site}",
        "Join our VIP group for {products}, only ${price} per month {site}",
        "{products} {products} {products} best price {site}",
        "New {products} just dropped, get yours before they sell out {site}",
        "Looking for {things}? Cheapest on the market, check {site}",
        "Visit {site} for {products}. Visit {site} for {things}.",
    ],
    "abuse": [
        "You are a complete {insult}, {name}.",
        "Shut up {name}, nobody cares about your opinion, {insult}.",
        "{name} is the dumbest {insult} on this forum.",
        "Go away you {insult}, people like you ruin everything.",
        "I hope your node gets slashed, you {insult}.",
        "Nobody wants you here {name}, get lost.",
        "What a {insult}. Delete your account.",
        "{name} you are so stupid it hurts to read your posts.",
        "Keep talking {name} and I will find where you live.",
        "Every post from {name} is garbage, what a {insult}.",
        "You {insult}, did your mother drop you as a baby?",
        "Only a {insult} like {name} would write {topic} this badly.",
        "Hey {insult}, learn to code before you open your mouth.",
        "{name} should be banned, total {insult} and a liar.",
        "I swear {name}, you are the worst {insult} I have ever seen.",
        "Your opinion on {topic} is worthless, just like you, {insult}.",
        "People like {name} deserve to lose everything, {insult}.",
        "Stop posting, {name}. You are an embarrassment and a {insult}.",
        "Lmao look at this {insult} trying to explain {topic}.",
        "You are trash {name}, absolute trash.",
    ],
    "scam": [
        "Send {amount} {token} to {address} and receive double back instantly! Official giveaway.",
        "URGENT: your wallet is compromised, verify your seed phrase at {scamsite} now.",
        "Airdrop live! Connect your wallet at {scamsite} to claim {count} {token}.",
        "Support here: DM me your recovery phrase and I will restore your funds.",
        "Guaranteed {pct}% daily returns, send {token} to {address} to join the pool.",
        "{name} from the team here, we are refunding gas fees, claim at {scamsite}.",
        "Elon is giving away {count} {token}! Send {amount} {token} to {address} to participate.",
        "Your account will be suspended unless you validate it at {scamsite} within 24 hours.",
        "Investment opportunity: turn {amount} {token} into {count} {token} in a week, message me.",
        "Claim your unclaimed staking rewards at {scamsite}, enter your private key to verify.",
        "Congratulations! You won {count} {token}. Pay a {amount} {token} fee to {address} to release it.",
        "Admin here. Sync your wallet at {scamsite} to fix the pending transaction.",
        "Double your {token}: send any amount to {address} and get 2x back, limited time.",
        "Official migration: move your {token} to the new contract {address} before it expires.",
        "Recover lost funds! Our team can retrieve stolen {token}, just share your seed words.",
        "Exclusive presale, {pct}% bonus, send {token} to {address} now, only {count} spots left.",
        "Hi, I'm from wallet support. Please fill in your 12 words at {scamsite}.",
        "Free mint for early members at {scamsite}, approve the contract to receive {count} {token}.",
        "Your withdrawal is stuck. Verify ownership by sending {amount} {token} to {address}.",
        "Risk free trading bot, {pct}% profit guaranteed, deposit to {address}.",
    ],
}


def _address(rng):
    return "0x" + "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(40))


def _fill(template, rng):
    n = rng.randint(10, 9999)
    slots = {
        "name": rng.choice(NAMES).capitalize() if rng.random() < 0.5 else rng.choice(NAMES),
        "topic": rng.choice(TOPICS),
        "things": rng.choice(THINGS),
        "products": rng.choice(PRODUCTS),
        "token": rng.choice(TOKENS),
        "insult": rng.choice(INSULTS),
        "site": rng.choice(SITES).format(n=n),
        "scamsite": rng.choice(SCAM_SITES).format(n=n),
        "address": _address(rng),
        "amount": rng.choice(["0.1", "0.5", "1", "2", "5", "0.25", "10", "100"]),
        "count": rng.choice(["100", "500", "1000", "5000", "10,000", "50k", "1M"]),
        "price": rng.choice(["5", "9.99", "19", "49", "99", "200"]),
        "pct": rng.choice(["5", "10", "20", "50", "100", "300"]),
        "n": str(n),
    }
    text = template
    # Slots may repeat in a template; each occurrence gets its own filler for variety.
    while "{" in text:
        start = text.index("{")
        end = text.index("}", start)
        key = text[start + 1:end]
        value = slots[key] if key in ("name", "n") else _fill_one(key, slots, rng)
        text = text[:start] + value + text[end + 1:]
    return text


def _fill_one(key, slots, rng):
    if key == "site":
        return rng.choice(SITES).format(n=rng.randint(10, 9999))
    if key == "products":
        return rng.choice(PRODUCTS)
    return slots[key]


def _noise(text, rng):
    r = rng.random()
    if r < 0.15:
        text = text.upper()
    elif r < 0.35:
        text = text.lower()
    if rng.random() < 0.2 and len(text) > 10:
        i = rng.randrange(len(text) - 1)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2:]  # a typo
    return text + rng.choice(EMOJI)


def split_templates(seed=7, held_out_fraction=0.2):
    """(train_templates, unseen_templates) per label."""
    rng = random.Random(seed)
    train, unseen = {}, {}
    for label, templates in TEMPLATES.items():
        idx = list(range(len(templates)))
        rng.shuffle(idx)
        k = max(2, int(round(len(templates) * held_out_fraction)))
        unseen[label] = [templates[i] for i in sorted(idx[:k])]
        train[label] = [templates[i] for i in sorted(idx[k:])]
    return train, unseen


def generate(templates, count, seed):
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = LABELS[i % len(LABELS)]
        text = _noise(_fill(rng.choice(templates[label]), rng), rng)
        rows.append({"text": text, "label": label})
    rng.shuffle(rows)
    return rows
